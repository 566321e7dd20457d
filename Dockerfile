# modelgate: the admission webhook image.
#   docker build -t registry.example.com/modelgate:0.1.0 .
# Build stage: the project's own build (`npm run build`: tsc -p tsconfig.build.json -> dist/).
# Dependencies stage: production dependencies only. Runtime: distroless Node.js 24, no shell, no package
# manager, user 65532. No certificate or key is baked in: the webhook gets its serving certificate at run
# time (self-managed Secret, cert-manager, or a mounted Secret; see docs/kubernetes.md).

FROM node:24-slim AS build
WORKDIR /src
# Dependencies first (a layer that changes only with the lockfile); scripts/node-env.sh installs them as
# every npm script does, and records it so `npm run build` does not install again.
COPY package.json package-lock.json .nvmrc ./
COPY scripts/run.sh scripts/node-env.sh scripts/
RUN bash -c 'source scripts/node-env.sh'
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No lifecycle scripts: nothing in the runtime dependencies needs one. Type declarations, source maps and
# docs of dependencies are not needed to run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.map' -o -name '*.md' \) -delete \
  && npm cache clean --force

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps --chown=65532:65532 /app/node_modules ./node_modules
COPY --from=build --chown=65532:65532 /src/dist ./dist
COPY --chown=65532:65532 package.json ./
USER 65532:65532
EXPOSE 8443
# The distroless image has node at /nodejs/bin/node and nothing on PATH to find it by name.
# serve listens on loopback by default; in a container it must listen on the container's address.
ENTRYPOINT ["/nodejs/bin/node", "dist/cli/main.js", "serve", "--host=0.0.0.0"]

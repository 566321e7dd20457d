/**
 * `modelgate`: the webhook server and the same checks for people and
 * pipelines. Commands, flags, exit codes and --json keys are a contract
 * (docs/cli.md): change them only on purpose.
 */
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, DEFAULTS } from '../config.ts';
import { EXIT, UsageError } from './io.ts';

// Each command is imported when it runs, not before: `verify` in a pipeline does not load the server,
// express, pino or prom-client, and `--version` loads nothing but commander (docs/performance.md).

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command('modelgate')
    .description('Keeps unverified ML models out of a Kubernetes cluster.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const unmatched = () =>
    new Option('--unmatched <action>', 'what to do with a model reference that no policy governs').choices([
      'allow',
      'warn',
      'deny',
    ]);

  program
    .command('serve')
    .description('run the admission webhook (HTTPS)')
    .option('--policy-file <file>', 'ModelPolicy YAML (repeatable)', collect)
    .option('--host <host>', 'address to listen on (0.0.0.0: every IPv4 address)', DEFAULTS.host)
    .option('--port <n>', 'port to listen on', '8443')
    .option('--tls-cert <file>', 'serving certificate (PEM); a self-signed one is generated when absent')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .addOption(unmatched().default('deny'))
    .option('--deadline-ms <ms>', 'verification deadline per admission, below the webhook timeout', '8000')
    .option('--max-body-bytes <n>', 'largest AdmissionReview accepted', String(8 * 1024 * 1024))
    .option('--insecure-registry <host[:port]>', 'allow plain HTTP to this registry (repeatable)', collect)
    .option(
      '--allow-registry-redirect-host <host[:port]>',
      'let registry redirects and token realms reach this host at a private or loopback address (repeatable)',
      collect,
    )
    .option('--registry-config <file>', 'docker config.json with registry credentials')
    .option(
      '--namespace-labels <ns=k=v,...>',
      'labels of a namespace, for namespaceSelector (repeatable)',
      collect,
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--kubernetes', 'cluster mode: ModelPolicies and namespace labels from the API server')
    .option(
      '--kubeconfig <file>',
      'kubeconfig for --kubernetes (default: KUBECONFIG, else the service account)',
    )
    .option('--namespace <ns>', 'namespace modelgate runs in (default: POD_NAMESPACE or the service account)')
    .option(
      '--secret-namespace <ns>',
      'namespace whose Secrets and ConfigMaps may be read (repeatable; none: any)',
      collect,
    )
    .option('--pod-pull-secrets', "use the pod's imagePullSecrets and its service account's for registries")
    .option('--no-events', 'do not record a Kubernetes Event on each refusal')
    .option(
      '--tls-self-manage',
      'keep a CA and serving certificate in a Secret, and the webhook caBundle in step; rotated before expiry',
    )
    .option('--tls-secret <name>', 'Secret of --tls-self-manage', 'modelgate-tls')
    .option(
      '--webhook-config <name>',
      'ValidatingWebhookConfiguration whose matchConditions modelgate keeps in step with the policies (and whose caBundle --tls-self-manage sets)',
    )
    .option('--service <name>', 'Service the API server calls, named in the certificate', 'modelgate')
    .option('--tls-san <name|ip>', 'extra DNS name or IP address for the certificate (repeatable)', collect)
    .option('--cache-max-entries <n>', 'verified decisions kept (and tag resolutions); LRU', '10000')
    .option('--cache-ttl-ms <ms>', 'how long a verified decision is kept; 0 turns the cache off', '300000')
    .option('--negative-cache-max-entries <n>', 'refusals kept, apart from verified decisions', '2000')
    .option(
      '--negative-cache-ttl-ms <ms>',
      'how long a refusal is kept (transient failures never are)',
      '10000',
    )
    .option('--tag-cache-ttl-ms <ms>', 'how long a tag -> digest resolution is kept', '30000')
    .option('--registry-concurrency <n>', 'verifications running at once per registry host', '8')
    .option(
      '--format-whole-blob-bytes <n>',
      'blobs up to this size are fetched whole and digest-checked before their format is classified',
      String(16 * 1024 * 1024),
    )
    .option(
      '--format-read-budget-bytes <n>',
      'bytes the format check reads at most per artifact',
      String(64 * 1024 * 1024),
    )
    .action(async (flags) => {
      const { serveCommand } = await import('./serve.ts');
      await serveCommand(flags);
    });

  program
    .command('review')
    .description('decide one AdmissionReview read on stdin; print the response on stdout')
    .requiredOption('--policy-file <file>', 'ModelPolicy YAML (repeatable)', collect)
    .addOption(unmatched().default('deny'))
    .option(
      '--namespace-labels <ns=k=v,...>',
      'labels of a namespace, for namespaceSelector (repeatable)',
      collect,
    )
    .option('--insecure-registry <host[:port]>', 'allow plain HTTP to this registry (repeatable)', collect)
    .option(
      '--allow-registry-redirect-host <host[:port]>',
      'let registry redirects and token realms reach this host at a private or loopback address (repeatable)',
      collect,
    )
    .option('--registry-config <file>', 'docker config.json with registry credentials')
    .option('--deadline-ms <ms>', 'verification deadline', '8000')
    .action(async (flags) => {
      const { reviewCommand } = await import('./review.ts');
      process.exitCode = await reviewCommand(flags);
    });

  program
    .command('verify')
    .description('decide one model reference as if a pod in --namespace named it')
    .argument('<reference>', 'model reference, e.g. registry.example.com/models/m@sha256:...')
    .requiredOption('--policy-file <file>', 'ModelPolicy YAML (repeatable)', collect)
    .option('--namespace <ns>', 'namespace of the imagined pod', 'default')
    .option(
      '--namespace-labels <ns=k=v,...>',
      'labels of a namespace, for namespaceSelector (repeatable)',
      collect,
    )
    .addOption(unmatched().default('deny'))
    .option('--insecure-registry <host[:port]>', 'allow plain HTTP to this registry (repeatable)', collect)
    .option(
      '--allow-registry-redirect-host <host[:port]>',
      'let registry redirects and token realms reach this host at a private or loopback address (repeatable)',
      collect,
    )
    .option('--registry-config <file>', 'docker config.json with registry credentials')
    .option('--deadline-ms <ms>', 'verification deadline', '30000')
    .option('--json', 'print the verdict as JSON')
    .action(async (reference: string, flags) => {
      const { verifyCommand } = await import('./verify.ts');
      process.exitCode = await verifyCommand(reference, flags);
    });

  const policy = program.command('policy').description('work with ModelPolicy files');
  policy
    .command('lint')
    .description('validate ModelPolicy files; every error with its path')
    .argument('<files...>', 'ModelPolicy YAML files')
    .option('--json', 'print the errors as JSON')
    .action(async (files: string[], flags: { json?: boolean }) => {
      const { lintCommand } = await import('./lint.ts');
      process.exitCode = lintCommand(files, flags);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`modelgate: ${err.message}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`modelgate: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.INTERNAL;
  }
}

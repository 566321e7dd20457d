module modelgate.dev/tools/tar-decode

go 1.24

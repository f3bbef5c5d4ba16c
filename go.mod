module github.com/wazix/wazix

go 1.26.8

require (
	github.com/tetratelabs/wazero v1.12.0
	github.com/urfave/cli/v3 v3.14.0
	go.bytecodealliance.org v0.7.0
	golang.org/x/sys v0.50.0
)

require github.com/coreos/go-semver v0.3.1 // indirect

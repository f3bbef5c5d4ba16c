module github.com/wazix/wazix

go 1.26.8

require github.com/tetratelabs/wazero v1.12.0

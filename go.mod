module github.com/wazix/wazix

go 1.26.8

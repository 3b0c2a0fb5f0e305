module github.com/lmn-heal/lmn

go 1.26.0

toolchain go1.27.3

require golang.org/x/sys v0.50.0

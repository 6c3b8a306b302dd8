// This go.mod only fences the mini-program off from the Go module around it:
// npm packages ship stray Go files (flatted does, in node_modules), and
// without it `go vet ./...` and `go test ./...` would build them as part of
// onebook. There is no Go code here.
module github.com/onebook/onebook/miniprogram

go 1.26

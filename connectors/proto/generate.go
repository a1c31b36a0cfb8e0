// Package proto holds the protobuf source of the connector wire contract and
// the directive that regenerates its Go code into connectorv1.
//
// Regenerating needs protoc, protoc-gen-go and protoc-gen-go-grpc on PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
//	go generate ./connectors/proto
package proto

//go:generate protoc -I . --go_out=. --go_opt=module=github.com/straitpay/strait/connectors/proto --go-grpc_out=. --go-grpc_opt=module=github.com/straitpay/strait/connectors/proto strait/connector/v1/connector.proto

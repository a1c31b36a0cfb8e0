// Package sdk is what a connector author imports. Implement
// connectors.Connector (embed connectors.Unimplemented for what your
// channel does not offer) and hand it to Serve from your main function:
//
//	func main() {
//		sdk.Serve(&myChannel{})
//	}
//
// Serve speaks the go-plugin handshake and the strait.connector.v1 gRPC
// protocol, validates every request before your code sees it (amounts,
// currencies, ids, sizes), recovers panics, forwards your logs to Strait,
// and exits when Strait goes away. Helpers cover the rest of a channel
// adapter: webhook signatures (Webhook), channel idempotency keys
// (IdempotencyKey) and asynchronous events (Emitter).
package sdk

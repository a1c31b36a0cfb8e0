// Package connectors is the Go contract between Strait's payment core and
// the channels (card schemes, banks, wallets, FX agencies) it reaches.
//
// The payment core imports this package only: it never sees the protobuf
// wire types. A Connector here may be a supervised plugin process (see
// connectors/host) or an in-process fake for tests; both behave the same.
//
// Every answer carries a normalized Result. A call that returns an error
// also returns a Result whose Outcome tells the caller what is safe to do:
// OutcomeError means the channel was not reached and the call may be routed
// elsewhere; OutcomeUnknown means the channel may have acted and the
// attempt must be resolved through QueryPayment, never retried blindly.
package connectors

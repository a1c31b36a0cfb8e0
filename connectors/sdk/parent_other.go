//go:build !linux

package sdk

// setDeathSignal has no kernel support outside Linux; the parent pid poll
// in watchParent does the work.
func setDeathSignal() {}

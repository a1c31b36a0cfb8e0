//go:build !linux

package host

import "os/exec"

// setProcAttr does nothing outside Linux; the SDK's parent watch ends
// orphaned plugins.
func setProcAttr(*exec.Cmd) {}

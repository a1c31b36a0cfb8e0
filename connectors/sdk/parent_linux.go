//go:build linux

package sdk

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setDeathSignal asks the kernel to SIGKILL this process when its parent
// dies.
func setDeathSignal() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0)
}

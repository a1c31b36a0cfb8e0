//go:build linux

package host

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel SIGKILL the plugin if Strait dies. The SDK
// arms the same signal from the plugin side and also polls its parent pid;
// this covers plugins not built with the SDK.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

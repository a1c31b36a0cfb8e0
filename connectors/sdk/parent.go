package sdk

import (
	"log/slog"
	"os"
	"time"
)

// parentPollInterval is how often the plugin checks that Strait is still
// its parent. A quarter second keeps an orphan's life short without
// costing anything measurable.
const parentPollInterval = 250 * time.Millisecond

// watchParent makes the plugin exit when the process that started it dies,
// even when it was SIGKILLed and could not clean up. On Linux the kernel
// signals us (PR_SET_PDEATHSIG); everywhere, a change of parent pid (the
// orphan is re-parented to init or a subreaper) ends the process.
func watchParent(log *slog.Logger) {
	ppid := os.Getppid()
	setDeathSignal()
	if os.Getppid() != ppid {
		// The parent died before the death signal was armed.
		log.Error("parent process gone at start; exiting")
		os.Exit(3)
	}
	// A parent pid of 1 is not an orphan sign: Strait may be PID 1 in a
	// container. The host also sets Pdeathsig before exec, which closes
	// the window before this function runs.
	go func() {
		for range time.Tick(parentPollInterval) {
			if os.Getppid() != ppid {
				log.Error("parent process gone; exiting", "parent_pid", ppid)
				os.Exit(3)
			}
		}
	}()
}

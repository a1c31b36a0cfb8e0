package bench

import (
	"os"
	"strconv"
	"strings"
)

// cpuSample is the CPU time, in clock ticks (1/100 s on Linux), used so far
// by each process that serves a payment, and by the whole machine. It reads
// /proc; elsewhere every figure is zero.
type cpuSample struct {
	strait, plugin, mariadb int64
	// busy, idle and steal are the whole machine's: steal is the time the
	// hypervisor gave the VM's CPUs to others, neither busy nor idle here.
	busy, idle, steal int64
}

// mariadbPIDFile is where Debian's MariaDB keeps its pid.
const mariadbPIDFile = "/run/mysqld/mysqld.pid"

func sampleCPU(pluginPID int) cpuSample {
	s := cpuSample{strait: procTicks(os.Getpid()), plugin: procTicks(pluginPID)}
	if b, err := os.ReadFile(mariadbPIDFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			s.mariadb = procTicks(pid)
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is counted in user already.
		for i, f := range strings.Fields(line)[1:] {
			n, _ := strconv.ParseInt(f, 10, 64)
			switch i {
			case 3, 4:
				s.idle += n
			case 7:
				s.steal += n
			case 8, 9:
			default:
				s.busy += n
			}
		}
	}
	return s
}

// procTicks returns utime+stime of pid.
func procTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields after it are fixed.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// perPayment turns the ticks between two samples into milliseconds per payment.
func (s cpuSample) perPayment(before cpuSample, n int) cpuSample {
	ms := func(a, b int64) int64 { return (a - b) * 10 * 1000 / int64(n) } // µs per payment
	return cpuSample{
		strait: ms(s.strait, before.strait), plugin: ms(s.plugin, before.plugin), mariadb: ms(s.mariadb, before.mariadb),
		busy: ms(s.busy, before.busy), idle: ms(s.idle, before.idle), steal: ms(s.steal, before.steal),
	}
}

package main

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat: USER_HZ, which Linux
// fixes at 100 for every userspace interface whatever the kernel's internal tick rate.
const userHZ = 100

// procCPUTicks is utime+stime of a process (fields 14 and 15 of /proc/<pid>/stat), in USER_HZ ticks.
func procCPUTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatTicks(string(b))
}

// parseStatTicks reads utime and stime from the text of /proc/<pid>/stat. The command name
// (field 2) is in parentheses and may contain spaces, so fields are counted after its last ')'.
func parseStatTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/<pid>/stat: no ')' after the command name")
	}
	// After ") " come field 3 (state) onwards; utime is field 14, stime 15.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("/proc/<pid>/stat: fewer fields than expected")
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, errors.New("/proc/<pid>/stat: utime: " + err.Error())
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, errors.New("/proc/<pid>/stat: stime: " + err.Error())
	}
	return ut + st, nil
}

// procMem is the resident set size now and at its peak, in bytes (VmRSS, VmHWM of /proc/<pid>/status).
type procMem struct {
	RSS, HWM uint64
}

func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMem{}, err
	}
	return parseStatusMem(string(b))
}

func parseStatusMem(status string) (procMem, error) {
	var m procMem
	var seen int
	for line := range strings.SplitSeq(status, "\n") {
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.HWM
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			return m, errors.New("/proc/<pid>/status: unexpected line " + strconv.Quote(line))
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return m, errors.New("/proc/<pid>/status: " + err.Error())
		}
		*dst = kb * 1024
		seen++
	}
	if seen != 2 {
		return m, errors.New("/proc/<pid>/status: VmRSS or VmHWM missing")
	}
	return m, nil
}

// cpuTimes are the busy and total ticks of each CPU (the cpuN lines of /proc/stat).
type cpuTimes struct {
	Busy, Total []uint64
}

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseProcStat(string(b))
}

// parseProcStat: user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
func parseProcStat(text string) (cpuTimes, error) {
	var ct cpuTimes
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, "cpu") || strings.HasPrefix(line, "cpu ") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil || n != len(ct.Busy) || len(f) < 8 {
			return ct, errors.New("/proc/stat: unexpected line " + strconv.Quote(line))
		}
		var busy, total uint64
		for j, s := range f[1:] {
			if j >= 8 { // guest time is already counted in user
				break
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return ct, errors.New("/proc/stat: " + err.Error())
			}
			total += v
			if j != 3 && j != 4 {
				busy += v
			}
		}
		ct.Busy = append(ct.Busy, busy)
		ct.Total = append(ct.Total, total)
	}
	if len(ct.Busy) == 0 {
		return ct, errors.New("/proc/stat: no cpuN lines")
	}
	return ct, nil
}

// loadAvg1 is the one-minute load average.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

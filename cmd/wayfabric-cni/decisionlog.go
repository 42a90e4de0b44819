package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxLogSize caps the decision log; one older generation (<file>.1) is
// kept, so the log never takes more than twice this on the node.
const maxLogSize = 4 << 20

// decision is one line of the log: what the plugin decided for a pod and why.
type decision struct {
	Time        time.Time `json:"time"`
	Command     string    `json:"cmd"`
	Pod         string    `json:"pod,omitempty"`
	UID         string    `json:"uid,omitempty"`
	ContainerID string    `json:"containerID,omitempty"`
	Netns       string    `json:"netns,omitempty"`
	// Result: captured, not-enrolled, excluded, not-kubernetes, released,
	// checked or failed.
	Result     string  `json:"result"`
	Reason     string  `json:"reason,omitempty"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"durationMs"`
}

// decisionLog appends decisions to the configured file and failures to
// stderr (which the runtime logs). Logging never changes a decision: a file
// that cannot be written is reported on stderr and skipped.
type decisionLog struct {
	path   string
	stderr io.Writer
}

func (l decisionLog) record(d decision) {
	if d.Error != "" {
		fmt.Fprintf(l.stderr, "wayfabric-cni: %s %s: %s\n", d.Command, d.Pod, d.Error)
	}
	if l.path == "" {
		return
	}
	line, err := json.Marshal(d)
	if err != nil {
		return
	}
	if err := l.append(append(line, '\n')); err != nil {
		fmt.Fprintf(l.stderr, "wayfabric-cni: writing the decision log: %v\n", err)
	}
}

func (l decisionLog) append(line []byte) error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// Plugins for different pods run concurrently: the lock keeps one
	// rotation from racing another's append.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size()+int64(len(line)) > maxLogSize && l.stillNamed(st) {
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			return err
		}
		f.Close()
		// The new file; a concurrent writer that opened the old name
		// finds it renamed and appends there, which is harmless.
		if f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		defer f.Close()
	}
	_, err = f.Write(line)
	return err
}

// stillNamed reports whether the open file is still the one at path (not
// rotated away by another process meanwhile).
func (l decisionLog) stillNamed(open os.FileInfo) bool {
	st, err := os.Stat(l.path)
	return err == nil && os.SameFile(st, open)
}

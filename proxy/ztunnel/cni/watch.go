package cni

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// DefaultPollInterval is how often watchers look even without a file
// event: inotify misses changes on some volume types, and a directory that
// does not exist yet cannot be watched.
const DefaultPollInterval = 5 * time.Second

// settle groups the burst of events one rewrite makes (create, write,
// rename) into one wake-up.
const settle = 50 * time.Millisecond

// dirWatcher wakes its owner when something in its directories may have
// changed: a file event, or the poll interval passing.
type dirWatcher struct {
	dirs    []string
	poll    time.Duration
	log     logr.Logger
	w       *fsnotify.Watcher // nil: polling only
	watched map[string]bool
}

func newDirWatcher(log logr.Logger, poll time.Duration, dirs ...string) *dirWatcher {
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	d := &dirWatcher{dirs: dirs, poll: poll, log: log, watched: map[string]bool{}}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Info("File events unavailable, polling only", "error", err.Error(), "interval", poll.String())
		return d
	}
	d.w = w
	d.addWatches()
	return d
}

// addWatches watches every directory that exists by now.
func (d *dirWatcher) addWatches() {
	if d.w == nil {
		return
	}
	for _, dir := range d.dirs {
		if d.watched[dir] {
			continue
		}
		if err := d.w.Add(dir); err == nil {
			d.watched[dir] = true
		}
	}
}

// wait returns when something may have changed, or ctx's error.
func (d *dirWatcher) wait(ctx context.Context) error {
	timer := time.NewTimer(d.poll)
	defer timer.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if d.w != nil {
		events, errs = d.w.Events, d.w.Errors
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	case ev := <-events:
		if ev.Op == fsnotify.Remove && d.watched[ev.Name] {
			// The directory itself went; watch it again when it is back.
			delete(d.watched, ev.Name)
		}
		d.drain(ctx)
	case err := <-errs:
		d.log.Info("File event error; the poll still runs", "error", err.Error())
	}
	d.addWatches()
	return ctx.Err()
}

// drain swallows the rest of a burst of events.
func (d *dirWatcher) drain(ctx context.Context) {
	t := time.NewTimer(settle)
	defer t.Stop()
	for {
		select {
		case <-d.w.Events:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (d *dirWatcher) close() {
	if d.w != nil {
		d.w.Close()
	}
}

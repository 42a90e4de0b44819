package cni

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/uds"
)

// ErrNoZtunnel means nothing listens on the node socket: the file is
// missing (ENOENT) or its owner is gone (ECONNREFUSED). Only then may the
// plugin decide without the ztunnel; any other failure is the ztunnel's
// answer being unknown, and fails the pod.
var ErrNoZtunnel = errors.New("no ztunnel is listening on the node socket")

// Notify sends one request (with the pod's network namespace for OpAdd)
// to the ztunnel at socketPath and waits for its reply until ctx ends.
func Notify(ctx context.Context, socketPath string, req Request, netns *os.File) (Reply, error) {
	c, err := uds.Dial(ctx, socketPath)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return Reply{}, fmt.Errorf("%w (%s): %v", ErrNoZtunnel, socketPath, err)
		}
		return Reply{}, fmt.Errorf("connecting to the ztunnel at %s: %w", socketPath, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// Cancellation without a deadline still has to unblock Receive.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	var files []*os.File
	if netns != nil {
		files = []*os.File{netns}
	}
	if err := c.Send(req, files...); err != nil {
		return Reply{}, fmt.Errorf("sending %s for pod %s to the ztunnel: %w", req.Op, req.Pod, ctxErr(ctx, err))
	}
	var reply Reply
	got, err := c.Receive(&reply)
	for _, f := range got {
		f.Close()
	}
	if err != nil {
		return Reply{}, fmt.Errorf("waiting for the ztunnel's answer to %s for pod %s: %w", req.Op, req.Pod, ctxErr(ctx, err))
	}
	return reply, nil
}

// ctxErr prefers the context's reason (deadline, cancel) over the socket
// error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	// The socket deadline is ctx's and may fire a moment before it.
	if _, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

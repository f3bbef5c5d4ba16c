package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/runtime"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	ptypes "github.com/containerd/containerd/v2/pkg/protobuf/types"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/log"
	"github.com/containerd/ttrpc"
	"github.com/containerd/typeurl/v2"
)

// service implements the containerd task API (v2) for wazix workloads. One
// shim process serves the containers containerd gives it, usually one.
type service struct {
	publisher shim.Publisher
	sd        shutdown.Service
	events    chan event

	mu         sync.Mutex
	containers map[string]*container
}

type event struct {
	topic string
	ev    any
}

func newService(ctx context.Context, publisher shim.Publisher, sd shutdown.Service) *service {
	s := &service{
		publisher:  publisher,
		sd:         sd,
		events:     make(chan event, 128),
		containers: map[string]*container{},
	}
	go s.forward(ctx)
	sd.RegisterCallback(func(context.Context) error {
		close(s.events)
		return nil
	})
	return s
}

// forward publishes events in the order the service produced them, so that
// containerd never sees a task exit before its start.
func (s *service) forward(ctx context.Context) {
	ns, _ := namespaces.Namespace(ctx)
	ctx = namespaces.WithNamespace(context.Background(), ns)
	for e := range s.events {
		if err := s.publisher.Publish(ctx, e.topic, e.ev); err != nil {
			log.G(ctx).WithError(err).WithField("topic", e.topic).Error("publish event")
		}
	}
	s.publisher.Close()
}

func (s *service) send(topic string, ev any) {
	defer func() { recover() }() // after Shutdown the channel is closed
	s.events <- event{topic, ev}
}

func (s *service) RegisterTTRPC(server *ttrpc.Server) error {
	taskAPI.RegisterTaskService(server, s)
	return nil
}

func (s *service) get(id, execID string) (*container, error) {
	if execID != "" {
		return nil, errgrpc.ToGRPCf(errdefs.ErrNotFound, "exec %s: the wazix shim runs no exec processes", execID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, errgrpc.ToGRPCf(errdefs.ErrNotFound, "task %s not found", id)
	}
	return c, nil
}

// Create mounts the rootfs, checks the module and starts the workload
// process, stopped before the guest runs until Start.
func (s *service) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.containers[r.ID]; ok {
		return nil, errgrpc.ToGRPCf(errdefs.ErrAlreadyExists, "task %s already exists", r.ID)
	}
	if r.Checkpoint != "" {
		return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "the wazix shim cannot restore checkpoints")
	}
	c, err := createContainer(ctx, r.ID, r.Bundle, mount.FromProto(r.Rootfs), r.Stdin, r.Stdout, r.Stderr, r.Terminal)
	if err != nil {
		return nil, errgrpc.ToGRPC(fmt.Errorf("wazix: %w", err))
	}
	s.containers[r.ID] = c
	c.waiting = true
	go c.wait(func() {
		s.send(runtime.TaskExitEventTopic, &eventstypes.TaskExit{
			ContainerID: c.id,
			ID:          c.id,
			Pid:         uint32(c.pid),
			ExitStatus:  c.exitStatus,
			ExitedAt:    protobuf.ToTimestamp(c.exitedAt),
		})
	})
	s.send(runtime.TaskCreateEventTopic, &eventstypes.TaskCreate{
		ContainerID: r.ID,
		Bundle:      r.Bundle,
		Rootfs:      r.Rootfs,
		IO:          &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Pid:         uint32(c.pid),
	})
	return &taskAPI.CreateTaskResponse{Pid: uint32(c.pid)}, nil
}

// Start runs the guest.
func (s *service) Start(ctx context.Context, r *taskAPI.StartRequest) (*taskAPI.StartResponse, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := c.start(); err != nil {
		return nil, errgrpc.ToGRPC(err)
	}
	// Sent under no lock, but the exit event waits for c.mu, which start
	// held while it set RUNNING; queue the start first.
	c.mu.Lock()
	s.send(runtime.TaskStartEventTopic, &eventstypes.TaskStart{ContainerID: c.id, Pid: uint32(c.pid)})
	c.mu.Unlock()
	return &taskAPI.StartResponse{Pid: uint32(c.pid)}, nil
}

// Delete removes a task that has exited (or was never started): it kills
// what is left, unmounts the rootfs and forgets the task.
func (s *service) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	status := c.status
	c.mu.Unlock()
	if status == task.Status_RUNNING {
		return nil, errgrpc.ToGRPCf(errdefs.ErrFailedPrecondition, "task %s is running: kill it first", r.ID)
	}
	if err := c.cleanup(); err != nil {
		return nil, errgrpc.ToGRPC(fmt.Errorf("wazix: delete %s: %w", r.ID, err))
	}
	s.mu.Lock()
	delete(s.containers, r.ID)
	s.mu.Unlock()
	c.mu.Lock()
	resp := &taskAPI.DeleteResponse{Pid: uint32(c.pid), ExitStatus: c.exitStatus, ExitedAt: protobuf.ToTimestamp(c.exitedAt)}
	c.mu.Unlock()
	s.send(runtime.TaskDeleteEventTopic, &eventstypes.TaskDelete{
		ContainerID: r.ID, ID: r.ID, Pid: resp.Pid, ExitStatus: resp.ExitStatus, ExitedAt: resp.ExitedAt,
	})
	return resp, nil
}

func (s *service) State(ctx context.Context, r *taskAPI.StateRequest) (*taskAPI.StateResponse, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &taskAPI.StateResponse{
		ID:         c.id,
		Bundle:     c.bundle,
		Pid:        uint32(c.pid),
		Status:     c.status,
		Stdin:      c.stdin,
		Stdout:     c.stdout,
		Stderr:     c.stderr,
		ExitStatus: c.exitStatus,
		ExitedAt:   protobuf.ToTimestamp(c.exitedAt),
	}, nil
}

func (s *service) Pids(ctx context.Context, r *taskAPI.PidsRequest) (*taskAPI.PidsResponse, error) {
	c, err := s.get(r.ID, "")
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == task.Status_STOPPED {
		return &taskAPI.PidsResponse{}, nil
	}
	return &taskAPI.PidsResponse{Processes: []*task.ProcessInfo{{Pid: uint32(c.pid)}}}, nil
}

// Kill sends a signal to the workload process. wazix run ends the guest on
// SIGTERM and SIGINT; other signals take their default action on it.
func (s *service) Kill(ctx context.Context, r *taskAPI.KillRequest) (*ptypes.Empty, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := c.kill(syscall.Signal(r.Signal)); err != nil {
		return nil, errgrpc.ToGRPC(err)
	}
	return &ptypes.Empty{}, nil
}

func (s *service) Wait(ctx context.Context, r *taskAPI.WaitRequest) (*taskAPI.WaitResponse, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	select {
	case <-c.exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &taskAPI.WaitResponse{ExitStatus: c.exitStatus, ExitedAt: protobuf.ToTimestamp(c.exitedAt)}, nil
}

// Stats reports the workload process's CPU time and memory as cgroup v2
// metrics (the shim puts it in no cgroup of its own).
func (s *service) Stats(ctx context.Context, r *taskAPI.StatsRequest) (*taskAPI.StatsResponse, error) {
	c, err := s.get(r.ID, "")
	if err != nil {
		return nil, err
	}
	m, err := procMetrics(c.pid)
	if err != nil {
		return nil, errgrpc.ToGRPC(fmt.Errorf("stats of task %s: %v: %w", r.ID, err, errdefs.ErrNotFound))
	}
	a, err := typeurl.MarshalAnyToProto(m)
	if err != nil {
		return nil, err
	}
	return &taskAPI.StatsResponse{Stats: a}, nil
}

func (s *service) Connect(ctx context.Context, r *taskAPI.ConnectRequest) (*taskAPI.ConnectResponse, error) {
	resp := &taskAPI.ConnectResponse{ShimPid: uint32(os.Getpid())}
	if c, err := s.get(r.ID, ""); err == nil {
		resp.TaskPid = uint32(c.pid)
	}
	return resp, nil
}

// Shutdown ends the shim once it has no task left.
func (s *service) Shutdown(ctx context.Context, r *taskAPI.ShutdownRequest) (*ptypes.Empty, error) {
	s.mu.Lock()
	n := len(s.containers)
	s.mu.Unlock()
	if n > 0 {
		return &ptypes.Empty{}, nil
	}
	s.sd.Shutdown()
	return &ptypes.Empty{}, nil
}

// Exec is refused: a wasm guest is one process, with nothing to exec into.
func (s *service) Exec(ctx context.Context, r *taskAPI.ExecProcessRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: exec into a WebAssembly task is not supported (task %s)", r.ID)
}

func (s *service) ResizePty(ctx context.Context, r *taskAPI.ResizePtyRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: tasks have no terminal")
}

// CloseIO closes the guest's stdin, which ctr asks for when its input ends.
func (s *service) CloseIO(ctx context.Context, r *taskAPI.CloseIORequest) (*ptypes.Empty, error) {
	c, err := s.get(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.Stdin && c.stdinR != nil {
		// The copier sees the end of its FIFO and closes the guest's stdin.
		c.stdinR.Close()
	}
	return &ptypes.Empty{}, nil
}

func (s *service) Pause(ctx context.Context, r *taskAPI.PauseRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: pause is not supported")
}

func (s *service) Resume(ctx context.Context, r *taskAPI.ResumeRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: resume is not supported")
}

func (s *service) Checkpoint(ctx context.Context, r *taskAPI.CheckpointTaskRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: checkpoint is not supported")
}

func (s *service) Update(ctx context.Context, r *taskAPI.UpdateTaskRequest) (*ptypes.Empty, error) {
	return nil, errgrpc.ToGRPCf(errdefs.ErrNotImplemented, "wazix: updating resources of a running task is not supported")
}

package upstream

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs upstream exchanges on a fixed set of worker goroutines, over
// keep-alive connection pools to Config.Addrs. Create it with New; all methods
// are safe from any goroutine, and Submit never blocks, so it may be called on
// an event loop.
type Pool struct {
	cfg Config
	ups []*upstream
	rr  atomic.Uint32 // rotates pick's starting address

	// mu makes closing the queue and sending on it mutually exclusive: Submit
	// holds it shared, Close exclusively.
	mu     sync.RWMutex
	closed bool
	jobs   chan *Job

	// closeBy is the time by which every accepted job must be finished once
	// Close has begun; nil while the pool is open.
	closeBy   atomic.Pointer[time.Time]
	closeOnce sync.Once
	workers   sync.WaitGroup
}

// New validates cfg, fills in its defaults and starts the workers. It opens no
// connection: connections are opened on demand and kept alive.
func New(cfg Config) (*Pool, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: c, jobs: make(chan *Job, c.QueueLen)}
	for _, a := range c.Addrs {
		p.ups = append(p.ups, newUpstream(a, &c))
	}
	p.workers.Add(c.Workers)
	for range c.Workers {
		go p.work()
	}
	return p, nil
}

// Config returns the pool's configuration with every default filled in and
// addresses in "host:port" form.
func (p *Pool) Config() Config {
	c := p.cfg
	c.Addrs = append([]string(nil), p.cfg.Addrs...)
	return c
}

// Submit queues j for a worker and returns at once. j.Done must be set (Submit
// panics otherwise: the job could never be handed back). On success the pool
// owns j until it calls j.Done, exactly once. Submit returns ErrOverloaded when
// Config.QueueLen jobs are already waiting, and ErrClosed once Close has
// begun; Done is then not called and j is the caller's again.
func (p *Pool) Submit(j *Job) error {
	if j.Done == nil {
		panic("upstream: Submit of a Job without Done")
	}
	j.Err, j.Cause, j.Addr = nil, nil, ""
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.jobs <- j:
		return nil
	default:
		return ErrOverloaded
	}
}

// Close stops accepting jobs and returns once every accepted job's Done has
// returned. Jobs still queued are run, but nothing runs past Config.Timeout
// from the call: exchanges in flight then fail with ErrTimeout, and queued
// jobs not yet started with ErrClosed. So Close returns within about
// Config.Timeout (plus the time Done callbacks take). It then closes the idle
// connections. Close is idempotent; a concurrent second call waits for the
// first.
func (p *Pool) Close() {
	p.closeOnce.Do(func() {
		by := time.Now().Add(p.cfg.Timeout)
		p.closeBy.Store(&by)
		p.mu.Lock()
		p.closed = true
		close(p.jobs)
		p.mu.Unlock()
		p.workers.Wait()
		for _, u := range p.ups {
			u.hc.CloseIdleConnections()
		}
	})
}

// worker is one worker goroutine's scratch space, reused for every job.
type worker struct {
	head  []byte // serialized request head
	vec   [2][]byte
	bufs  net.Buffers
	tried [maxConnectAttempts]*upstream

	streamAbove int         // the job's StreamAbove
	prefix      []byte      // scratch for the buffered start of a streamed body
	body        *bodyStream // set by exchange when the body is streamed

	job     *Job   // the job being run (its Interim hook), nil between jobs
	interim []byte // scratch for the interim head handed to Job.Interim
}

func (p *Pool) work() {
	defer p.workers.Done()
	w := &worker{}
	for j := range p.jobs {
		p.run(w, j)
	}
}

// run executes one job and hands it back with Done.
func (p *Pool) run(w *worker, j *Job) {
	now := time.Now()
	deadline := now.Add(p.cfg.Timeout)
	if by := p.closeBy.Load(); by != nil {
		if !now.Before(*by) {
			clearResponse(&j.Resp.r)
			j.Err, j.Cause = ErrClosed, ErrClosed
			j.Done(j)
			return
		}
		if by.Before(deadline) {
			deadline = *by
		}
	}
	w.job = j
	p.do(w, j, deadline)
	w.job = nil
	if p.cfg.Observe != nil {
		p.cfg.Observe(j, time.Since(now))
	}
	// j belongs to the caller from here on: Done may release it.
	j.Done(j)
}

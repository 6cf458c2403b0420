package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{
			name: "all defaults",
			in:   Config{Addrs: []string{"127.0.0.1:9000"}},
			want: Config{Addrs: []string{"127.0.0.1:9000"}, Timeout: 30 * time.Second, DialTimeout: 3 * time.Second,
				ResponseIdleTimeout: 5 * time.Second, MaxConnsPerAddr: 1024, Workers: 1024, QueueLen: 4096, MaxResponseBodyBytes: 64 << 20,
				MaxResponseHeaderBytes: 32 << 10},
		},
		{
			name: "short timeout bounds the dial and the idle limit; workers capped at 4096",
			in:   Config{Addrs: []string{"a:1", "http://b:2", "HTTP://c:3/", "d", "[::1]:5"}, Timeout: time.Second},
			want: Config{Addrs: []string{"a:1", "b:2", "c:3", "d:80", "[::1]:5"}, Timeout: time.Second,
				DialTimeout: time.Second, ResponseIdleTimeout: time.Second, MaxConnsPerAddr: 1024, Workers: 4096, QueueLen: 16384,
				MaxResponseBodyBytes: 64 << 20, MaxResponseHeaderBytes: 32 << 10},
		},
		{
			name: "explicit values kept",
			in: Config{Addrs: []string{"x:1", "y:2"}, Timeout: time.Minute, DialTimeout: time.Millisecond,
				ResponseIdleTimeout: 2 * time.Minute, MaxConnsPerAddr: 3, QueueLen: 1, MaxResponseBodyBytes: 10, MaxResponseHeaderBytes: 4096},
			want: Config{Addrs: []string{"x:1", "y:2"}, Timeout: time.Minute, DialTimeout: time.Millisecond,
				ResponseIdleTimeout: 2 * time.Minute, MaxConnsPerAddr: 3, Workers: 6, QueueLen: 1, MaxResponseBodyBytes: 10, MaxResponseHeaderBytes: 4096},
		},
		{
			name: "huge MaxConnsPerAddr does not overflow the worker count",
			in:   Config{Addrs: []string{"x:1", "y:2"}, MaxConnsPerAddr: 1 << 62, Workers: 0, QueueLen: 1},
			want: Config{Addrs: []string{"x:1", "y:2"}, Timeout: 30 * time.Second, DialTimeout: 3 * time.Second,
				ResponseIdleTimeout: 5 * time.Second, MaxConnsPerAddr: 1 << 62, Workers: 4096, QueueLen: 1, MaxResponseBodyBytes: 64 << 20,
				MaxResponseHeaderBytes: 32 << 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Addrs, tt.want.Addrs) {
				t.Errorf("Addrs = %q, want %q", got.Addrs, tt.want.Addrs)
			}
			got.Addrs, tt.want.Addrs = nil, nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want error
	}{
		{"no address", Config{}, ErrNoUpstream},
		{"https", Config{Addrs: []string{"https://a:443"}}, ErrBadAddr},
		{"path", Config{Addrs: []string{"http://a:80/x"}}, ErrBadAddr},
		{"query", Config{Addrs: []string{"a:80?x"}}, ErrBadAddr},
		{"userinfo", Config{Addrs: []string{"http://u@a:80"}}, ErrBadAddr},
		{"empty", Config{Addrs: []string{""}}, ErrBadAddr},
		{"empty port", Config{Addrs: []string{"a:"}}, ErrBadAddr},
		{"port 0", Config{Addrs: []string{"a:0"}}, ErrBadAddr},
		{"port too large", Config{Addrs: []string{"a:65536"}}, ErrBadAddr},
		{"named port", Config{Addrs: []string{"a:http"}}, ErrBadAddr},
		{"no host", Config{Addrs: []string{":80"}}, ErrBadAddr},
		{"bare IPv6", Config{Addrs: []string{"::1"}}, ErrBadAddr},
		{"one bad among good", Config{Addrs: []string{"a:1", "b c:2"}}, ErrBadAddr},
		{"negative timeout", Config{Addrs: []string{"a:1"}, Timeout: -1}, ErrBadConfig},
		{"negative dial timeout", Config{Addrs: []string{"a:1"}, DialTimeout: -1}, ErrBadConfig},
		{"negative idle timeout", Config{Addrs: []string{"a:1"}, ResponseIdleTimeout: -1}, ErrBadConfig},
		{"negative conns", Config{Addrs: []string{"a:1"}, MaxConnsPerAddr: -1}, ErrBadConfig},
		{"negative workers", Config{Addrs: []string{"a:1"}, Workers: -1}, ErrBadConfig},
		{"negative queue", Config{Addrs: []string{"a:1"}, QueueLen: -1}, ErrBadConfig},
		{"negative body", Config{Addrs: []string{"a:1"}, MaxResponseBodyBytes: -1}, ErrBadConfig},
		{"negative header", Config{Addrs: []string{"a:1"}, MaxResponseHeaderBytes: -1}, ErrBadConfig},
	}
	for _, tt := range tests {
		p, err := New(tt.cfg)
		if !errors.Is(err, tt.want) || p != nil {
			t.Errorf("%s: New = %v, %v; want nil, %v", tt.name, p, err, tt.want)
		}
	}
}

func TestPoolConfig(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"http://127.0.0.1:1"}, Workers: 2})
	c := p.Config()
	if c.Workers != 2 || c.QueueLen != 8 || !slices.Equal(c.Addrs, []string{"127.0.0.1:1"}) {
		t.Fatalf("Config() = %+v", c)
	}
	c.Addrs[0] = "changed"
	if p.Config().Addrs[0] != "127.0.0.1:1" {
		t.Fatal("Config() shares its Addrs with the pool")
	}
}

// gate is an upstream that holds every request until released.
type gate struct {
	once    sync.Once
	release chan struct{}
	arrived chan struct{}
}

func newGate(t *testing.T) (*gate, *rawServer) {
	g := &gate{release: make(chan struct{}), arrived: make(chan struct{}, 100)}
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := s.readRequest(br); err != nil {
				return
			}
			g.arrived <- struct{}{}
			<-g.release
			if _, err := io.WriteString(c, httpResponse("200 OK", "", []byte("late"))); err != nil {
				return
			}
		}
	})
	// Runs before the server's cleanup (registered earlier), so that no
	// handler is left waiting for a release that never comes.
	t.Cleanup(g.open)
	return g, up
}

// open releases every request held now or later; safe to call twice.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

// submitJob submits a GET whose Done signals ch.
func submitJob(p *Pool, ch chan *Job) (*Job, error) {
	j := AcquireJob()
	get("/")(&j.req)
	j.Ctx, j.Done = ch, doneChan
	return j, p.Submit(j)
}

// TestOverloaded checks that Submit refuses at once when the queue is full and
// that the accepted jobs complete later.
func TestOverloaded(t *testing.T) {
	g, up := newGate(t)
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 1, QueueLen: 2})
	done := make(chan *Job, 10)
	if _, err := submitJob(p, done); err != nil {
		t.Fatal(err)
	}
	<-g.arrived // the worker is busy; the queue is empty
	for i := range 2 {
		if _, err := submitJob(p, done); err != nil {
			t.Fatalf("queued job %d: %v", i, err)
		}
	}
	start := time.Now()
	j, err := submitJob(p, done)
	if err != ErrOverloaded {
		t.Fatalf("Submit on a full queue = %v, want ErrOverloaded", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("refusing took %v", d)
	}
	ReleaseJob(j)
	g.open()
	for i := range 3 {
		select {
		case j := <-done:
			if j.Err != nil || string(j.Resp.Body()) != "late" {
				t.Errorf("job %d: %v %q", i, j.Err, j.Resp.Body())
			}
			ReleaseJob(j)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 3 accepted jobs completed", i)
		}
	}
	select {
	case <-done:
		t.Fatal("Done called for the refused job")
	case <-time.After(50 * time.Millisecond):
	}
}

// TestCloseDrains checks that Close runs the accepted jobs, queued ones
// included, and returns only after every Done; and that Submit then fails.
func TestCloseDrains(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := s.readRequest(br); err != nil {
				return
			}
			time.Sleep(30 * time.Millisecond)
			if _, err := io.WriteString(c, httpResponse("200 OK", "", []byte("ok"))); err != nil {
				return
			}
		}
	})
	p, err := New(Config{Addrs: []string{up.addr()}, Workers: 2, QueueLen: 10})
	if err != nil {
		t.Fatal(err)
	}
	var completed atomic.Int32
	var errs sync.Map
	done := func(j *Job) {
		if j.Err != nil {
			errs.Store(j, j.Err)
		}
		completed.Add(1)
		ReleaseJob(j)
	}
	const n = 10
	for range n {
		j := AcquireJob()
		get("/")(&j.req)
		j.Done = done
		if err := p.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if c := completed.Load(); c != n {
		t.Fatalf("Close returned with %d of %d jobs done", c, n)
	}
	errs.Range(func(k, v any) bool {
		t.Errorf("job failed: %v", v)
		return true
	})
	j := AcquireJob()
	j.Done = func(*Job) { t.Error("Done called for a job refused after Close") }
	if err := p.Submit(j); err != ErrClosed {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
	p.Close() // idempotent
	ReleaseJob(j)
}

// TestCloseBounded checks that Close does not wait for a stuck upstream
// beyond Config.Timeout from the call: the job in flight times out, and queued
// jobs get only what is left of that limit.
func TestCloseBounded(t *testing.T) {
	_, up := newGate(t) // never released
	const timeout = 300 * time.Millisecond
	p, err := New(Config{Addrs: []string{up.addr()}, Workers: 1, QueueLen: 5, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []error
	done := func(j *Job) {
		mu.Lock()
		got = append(got, j.Err)
		mu.Unlock()
		ReleaseJob(j)
	}
	for range 4 {
		j := AcquireJob()
		get("/")(&j.req)
		j.Done = done
		if err := p.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the first job is in flight
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > timeout+time.Second {
		t.Fatalf("Close took %v with Timeout %v", d, timeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 4 {
		t.Fatalf("%d Done calls, want 4", len(got))
	}
	if got[0] != ErrTimeout {
		t.Errorf("job in flight: %v, want ErrTimeout", got[0])
	}
	// A queued job that starts before Close's limit runs with what is left
	// of it (and times out here); one that starts after it fails at once.
	for i, err := range got[1:] {
		if err != ErrClosed && err != ErrTimeout {
			t.Errorf("queued job %d: %v, want ErrClosed or ErrTimeout", i, err)
		}
	}
	if last := got[len(got)-1]; last != ErrClosed {
		t.Errorf("last queued job: %v, want ErrClosed", last)
	}
}

// TestConcurrentCloseAndSubmit checks, under -race, that Submit racing Close
// either fails with ErrClosed (no Done) or gets exactly one Done.
func TestConcurrentCloseAndSubmit(t *testing.T) {
	up := startRaw(t, serveFixed(httpResponse("200 OK", "", []byte("ok")), nil))
	p, err := New(Config{Addrs: []string{up.addr()}, Workers: 4, QueueLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	var accepted, doneCalls atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				j := AcquireJob()
				get("/")(&j.req)
				j.Done = func(j *Job) { doneCalls.Add(1); ReleaseJob(j) }
				switch err := p.Submit(j); err {
				case nil:
					accepted.Add(1)
				case ErrClosed, ErrOverloaded:
					ReleaseJob(j)
				default:
					t.Errorf("Submit: %v", err)
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	p.Close()
	wg.Wait()
	if a, d := accepted.Load(), doneCalls.Load(); a != d || a == 0 {
		t.Fatalf("%d jobs accepted, %d Done calls", a, d)
	}
}

// TestDoneExactlyOnce runs many concurrent jobs against a live upstream and
// checks each gets one Done with its own response.
func TestDoneExactlyOnce(t *testing.T) {
	up := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			r, err := s.readRequest(br)
			if err != nil {
				return
			}
			// Echo the target so each job can check it got its own answer.
			line, _, _ := bytes.Cut(r.head, []byte("\r"))
			if _, err := io.WriteString(c, httpResponse("200 OK", "", line)); err != nil {
				return
			}
		}
	})
	p := newPool(t, Config{Addrs: []string{up.addr()}, Workers: 8, MaxConnsPerAddr: 4, QueueLen: 1000})
	const n = 400
	var calls [n]atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		j := AcquireJob()
		target := "/job/" + strconv.Itoa(i)
		BuildRequest(&j.req, []byte("GET"), []byte(target), []byte("h"), hdrs("Host: h"), nil, nil)
		j.Ctx = i
		j.Done = func(j *Job) {
			k := j.Ctx.(int)
			calls[k].Add(1)
			if want := "GET /job/" + strconv.Itoa(k) + " HTTP/1.1"; j.Err != nil || string(j.Resp.Body()) != want {
				t.Errorf("job %d: err %v (%v), body %q", k, j.Err, j.Cause, j.Resp.Body())
			}
			ReleaseJob(j)
			wg.Done()
		}
		if err := p.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i := range n {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("job %d: %d Done calls", i, c)
		}
	}
	if c := up.accepted.Load(); c > 4 {
		t.Errorf("%d connections opened, MaxConnsPerAddr is 4", c)
	}
}

func TestSubmitWithoutDonePanics(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1"}, Workers: 1})
	defer func() {
		if recover() == nil {
			t.Fatal("Submit of a job without Done did not panic")
		}
	}()
	p.Submit(AcquireJob())
}

func TestSubmitAllocs(t *testing.T) {
	// A pool whose worker never drains: Submit alternates between queueing
	// and refusing, and neither may allocate.
	p := &Pool{jobs: make(chan *Job, 1)}
	j := &Job{Done: func(*Job) {}}
	n := testing.AllocsPerRun(100, func() {
		if err := p.Submit(j); err != nil && err != ErrOverloaded {
			t.Fatal(err)
		}
		select {
		case <-p.jobs:
		default:
		}
	})
	if n != 0 {
		t.Fatalf("Submit allocates %v times per call", n)
	}
}

func TestReleaseJobResets(t *testing.T) {
	j := AcquireJob()
	BuildRequest(&j.req, []byte("POST"), []byte("/x"), []byte("h"), hdrs("Host: h"), []byte("b"), nil)
	j.Resp.r.SetBodyString("resp")
	j.Err, j.Cause, j.Addr, j.Ctx = ErrTimeout, ErrTimeout, "a:1", 5
	j.Done = func(*Job) {}
	j.reset()
	if j.Err != nil || j.Cause != nil || j.Addr != "" || j.Ctx != nil || j.Done != nil ||
		len(j.req.Body()) != 0 || len(j.Resp.Body()) != 0 || string(j.req.Header.Method()) != fasthttp.MethodGet {
		t.Fatalf("reset left state behind: %+v", j)
	}
	ReleaseJob(j)
}

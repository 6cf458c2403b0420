package bench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomemcache "github.com/bradfitz/gomemcache/memcache"
	rainycape "github.com/rainycape/memcache"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
	"github.com/mcpage/mcpage/mcclient"
	"github.com/mcpage/mcpage/mcclient/ketama"
)

// The memcached client comparison: mcclient's goroutine-safe Client, its
// loop-affine LoopClient driven the way the server drives it, and two
// common Go clients, against the same memcached in one run. Names are
// BenchmarkMemcached/op=<get|set>/size=<bytes>/conc=<goroutines>/client=<name>,
// so `benchstat -col /client` puts the clients side by side. Besides ns/op
// and allocs/op each reports ops/s over the whole run.
//
// The other clients get one idle connection per goroutine (their defaults
// keep 2 and would redial under load) and a 5 s timeout.
//
// The loop client also reports loop-p99-us and loop-max-us: how long a
// task handed to its event loop every millisecond waited to run, i.e. what
// a request on the loop's other connections would wait while the client
// writes and reads there.

var (
	mcSizes = []int{100, 10 << 10, 100 << 10}
	mcConcs = []int{1, 16, 256}
)

// mcClient is the common face of the goroutine-based clients.
type mcClient interface {
	get(key string, dst []byte) ([]byte, error)
	set(key string, value []byte) error
	close()
}

type mcclientClient struct{ c *mcclient.Client }

func (m mcclientClient) get(key string, dst []byte) ([]byte, error) {
	res, err := m.c.Get([]byte(key), dst[:0], mcclient.GetOptions{})
	if err == nil && res.Status != mcclient.StatusOK {
		err = fmt.Errorf("get %s: %v", key, res.Status)
	}
	return res.Value, err
}

func (m mcclientClient) set(key string, value []byte) error {
	_, err := m.c.Set([]byte(key), value, mcclient.SetOptions{})
	return err
}

func (m mcclientClient) close() { _ = m.c.Close() }

type gomemcacheClient struct{ c *gomemcache.Client }

func (g gomemcacheClient) get(key string, _ []byte) ([]byte, error) {
	it, err := g.c.Get(key)
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

func (g gomemcacheClient) set(key string, value []byte) error {
	return g.c.Set(&gomemcache.Item{Key: key, Value: value})
}

func (g gomemcacheClient) close() { _ = g.c.Close() }

type rainycapeClient struct{ c *rainycape.Client }

func (r rainycapeClient) get(key string, _ []byte) ([]byte, error) {
	it, err := r.c.Get(key)
	if err != nil {
		return nil, err
	}
	return it.Value, nil
}

func (r rainycapeClient) set(key string, value []byte) error {
	return r.c.Set(&rainycape.Item{Key: key, Value: value})
}

func (r rainycapeClient) close() { _ = r.c.Close() }

func newMcClient(b *testing.B, name, addr string, conc int) mcClient {
	b.Helper()
	switch name {
	case "mcclient":
		ring, err := ketama.New([]ketama.Server{{Addr: addr}})
		if err != nil {
			b.Fatal(err)
		}
		c, err := mcclient.New(ring, mcclient.Config{OpTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		return mcclientClient{c}
	case "gomemcache":
		c := gomemcache.New(addr)
		c.MaxIdleConns = conc
		c.Timeout = 5 * time.Second
		return gomemcacheClient{c}
	case "rainycape":
		c, err := rainycape.New(addr)
		if err != nil {
			b.Fatal(err)
		}
		c.SetMaxIdleConnsPerAddr(conc)
		c.SetTimeout(5 * time.Second)
		return rainycapeClient{c}
	}
	b.Fatalf("unknown client %s", name)
	return nil
}

func BenchmarkMemcached(b *testing.B) {
	mc := mctest.Start(b, "-m", "512", "-c", "4096")
	for _, op := range []string{"get", "set"} {
		for _, size := range mcSizes {
			value := bytes.Repeat([]byte{'v'}, size)
			// One key per goroutine, loaded before the gets.
			keys := make([]string, mcConcs[len(mcConcs)-1])
			for i := range keys {
				keys[i] = "bench:" + strconv.Itoa(size) + ":" + strconv.Itoa(i)
			}
			loadKeys(b, mc.Addr, keys, value)
			for _, conc := range mcConcs {
				for _, name := range []string{"mcclient", "gomemcache", "rainycape"} {
					b.Run(fmt.Sprintf("op=%s/size=%d/conc=%d/client=%s", op, size, conc, name), func(b *testing.B) {
						c := newMcClient(b, name, mc.Addr, conc)
						defer c.close()
						runConcurrent(b, conc, size, func(g int, buf []byte) ([]byte, error) {
							if op == "get" {
								v, err := c.get(keys[g], buf)
								if err == nil && len(v) != size {
									err = fmt.Errorf("got %d bytes, want %d", len(v), size)
								}
								return v, err
							}
							return buf, c.set(keys[g], value)
						})
					})
				}
				b.Run(fmt.Sprintf("op=%s/size=%d/conc=%d/client=mcclient-loop", op, size, conc), func(b *testing.B) {
					runLoop(b, mc.Addr, op == "get", keys[:conc], value)
				})
			}
		}
	}
}

func loadKeys(b *testing.B, addr string, keys []string, value []byte) {
	b.Helper()
	ring, err := ketama.New([]ketama.Server{{Addr: addr}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := mcclient.New(ring, mcclient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, k := range keys {
		if _, err := c.Set([]byte(k), value, mcclient.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// runConcurrent runs b.N calls of op spread over conc goroutines; op gets
// its goroutine's index and a reusable buffer.
func runConcurrent(b *testing.B, conc, size int, op func(g int, buf []byte) ([]byte, error)) {
	// Warm up: connections dialed, buffers grown.
	for g := 0; g < conc; g++ {
		if _, err := op(g, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, size)
			for next.Add(1) <= int64(b.N) {
				var err error
				if buf, err = op(g, buf); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
}

// runLoop drives a LoopClient as the server does: on its event loop, conc
// lookups in flight (one per waiting request), each completion starting
// the next, no goroutine or lock per operation.
func runLoop(b *testing.B, addr string, get bool, keys []string, value []byte) {
	ring, err := ketama.New([]ketama.Server{{Addr: addr}})
	if err != nil {
		b.Fatal(err)
	}
	el := mctest.EventLoops(b, &mcclient.LoopHost{}, 1)[0]
	lc, err := mcclient.NewLoopClient(el, ring, mcclient.Config{OpTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer mctest.OnLoop(b, el, lc.Close)
	d := &loopDriver{lc: lc, get: get, value: value, size: len(value)}
	for _, k := range keys {
		d.keys = append(d.keys, []byte(k))
	}
	d.run(b, el, len(keys)) // warm up: connect, grow buffers
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	p := startProbe(el)
	d.run(b, el, b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	p.report(b)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
}

// loopProbe hands its event loop a task every millisecond and records how
// long each waited to run.
type loopProbe struct {
	stop chan struct{}
	done chan struct{}
	lat  []time.Duration
}

func startProbe(el gnet.EventLoop) *loopProbe {
	p := &loopProbe{stop: make(chan struct{}), done: make(chan struct{}), lat: make([]time.Duration, 0, 1<<16)}
	ran := make(chan struct{}, 1)
	task := gnet.RunnableFunc(func(context.Context) error {
		ran <- struct{}{}
		return nil
	})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			if el.Execute(context.Background(), task) != nil {
				return
			}
			select {
			case <-ran:
			case <-p.stop:
				return
			}
			if len(p.lat) < cap(p.lat) {
				p.lat = append(p.lat, time.Since(start))
			}
		}
	}()
	return p
}

// report stops the probe and reports the 99th percentile and the maximum wait.
func (p *loopProbe) report(b *testing.B) {
	close(p.stop)
	<-p.done
	if len(p.lat) == 0 {
		return
	}
	slices.Sort(p.lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(p.lat[len(p.lat)*99/100]), "loop-p99-us")
	b.ReportMetric(us(p.lat[len(p.lat)-1]), "loop-max-us")
}

// loopDriver is the Handler; its fields are touched only on the loop.
type loopDriver struct {
	lc                       *mcclient.LoopClient
	get                      bool
	keys                     [][]byte
	value                    []byte
	size                     int
	total, issued, completed int
	err                      error
	done                     chan struct{}
}

// run performs n operations, len(d.keys) at a time, and waits for them.
func (d *loopDriver) run(b *testing.B, el gnet.EventLoop, n int) {
	d.total, d.issued, d.completed, d.err = n, 0, 0, nil
	d.done = make(chan struct{})
	mctest.OnLoop(b, el, func() {
		d.lc.Cork() // as a read event carrying many requests would
		for i := range d.keys {
			d.issue(uint64(i))
		}
		d.lc.Uncork()
	})
	<-d.done
	if d.err != nil {
		b.Fatal(d.err)
	}
}

// issue starts the next operation on slot i (its own key), if any are left.
func (d *loopDriver) issue(i uint64) {
	if d.issued == d.total {
		return
	}
	d.issued++
	var err error
	if d.get {
		err = d.lc.Get(d.keys[i], mcclient.GetOptions{}, d, i)
	} else {
		err = d.lc.Set(d.keys[i], d.value, mcclient.SetOptions{}, d, i)
	}
	if err != nil {
		d.finish(err)
	}
}

func (d *loopDriver) OnResult(i uint64, res *mcclient.Result) {
	switch {
	case res.Err != nil:
		d.finish(res.Err)
	case res.Status != mcclient.StatusOK:
		d.finish(fmt.Errorf("status %v", res.Status))
	case d.get && len(res.Value) != d.size:
		d.finish(fmt.Errorf("got %d bytes, want %d", len(res.Value), d.size))
	default:
		d.finish(nil)
	}
	d.issue(i)
}

func (d *loopDriver) finish(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
	if d.completed++; d.completed == d.total {
		close(d.done)
	}
}

package mctest

import (
	"context"
	"log"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// EventLoops runs a gnet engine with handler h and n event loops, listening
// on a free loopback port, and returns its loops, e.g. for mcclient's
// NewLoopClient. The engine stops when the test ends. To learn the loops it
// dials n connections: connections whose Context() is nil when they open
// (accepted ones; enrolled client connections carry a context) are
// recorded and closed before h sees them.
func EventLoops(t testing.TB, h gnet.EventHandler, n int) []gnet.EventLoop {
	t.Helper()
	w := &loopRecorder{EventHandler: h, seen: make(chan gnet.EventLoop, n)}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(w, "tcp://"+addr, gnet.WithNumEventLoop(n), gnet.WithLoadBalancing(gnet.RoundRobin),
			gnet.WithLogger(quietLogger{}))
	}()
	t.Cleanup(func() {
		w.mu.Lock()
		eng := w.eng
		w.mu.Unlock()
		_ = eng.Stop(context.Background())
		<-done
	})
	var loops []gnet.EventLoop
	deadline := time.Now().Add(10 * time.Second)
	for len(loops) < n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			select {
			case err := <-done:
				t.Fatalf("mctest: gnet engine on %s stopped: %v", addr, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("mctest: gnet engine on %s not accepting: %v", addr, err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case el := <-w.seen:
			loops = append(loops, el)
		case <-time.After(10 * time.Second):
			t.Fatal("mctest: accepted connection never opened")
		}
		_ = c.Close()
	}
	return loops
}

type loopRecorder struct {
	gnet.EventHandler
	seen chan gnet.EventLoop
	mu   sync.Mutex
	eng  gnet.Engine
}

func (w *loopRecorder) OnBoot(eng gnet.Engine) gnet.Action {
	w.mu.Lock()
	w.eng = eng
	w.mu.Unlock()
	return w.EventHandler.OnBoot(eng)
}

func (w *loopRecorder) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if c.Context() == nil {
		w.seen <- c.EventLoop()
		return nil, gnet.Close
	}
	return w.EventHandler.OnOpen(c)
}

// OnLoop runs fn on el and waits for it to return.
func OnLoop(t testing.TB, el gnet.EventLoop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	err := el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		defer close(done)
		fn()
		return nil
	}))
	if err != nil {
		t.Fatalf("mctest: Execute: %v", err)
	}
	<-done
}

// quietLogger drops gnet's start-up chatter; warnings and errors still show.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any)     {}
func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Warnf(f string, a ...any)  { log.Printf("gnet: "+f, a...) }
func (quietLogger) Errorf(f string, a ...any) { log.Printf("gnet: "+f, a...) }
func (quietLogger) Fatalf(f string, a ...any) { log.Printf("gnet: "+f, a...) }

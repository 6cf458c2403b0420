package server

import (
	"context"
	"sync"
	"testing"

	"github.com/panjf2000/gnet/v2"

	"github.com/mcpage/mcpage/internal/mctest"
)

// Results posted by many goroutines while the loop is busy run in one
// batch, each goroutine's in the order it posted them; once the engine
// stops, post says so.
func TestInboxBatchesInOrder(t *testing.T) {
	el := mctest.EventLoops(t, &gnet.BuiltinEventEngine{}, 1)[0]
	l := &loop{el: el}
	l.inbox.l = l

	// Hold the loop busy until every result is posted.
	busy, release := make(chan struct{}), make(chan struct{})
	if err := el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		close(busy)
		<-release
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	<-busy

	const posters, each = 4, 250
	seen := make([][]int, posters) // appended on the loop only
	var done sync.WaitGroup
	done.Add(posters * each)
	var wg sync.WaitGroup
	for g := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.post(gnet.RunnableFunc(func(context.Context) error {
					seen[g] = append(seen[g], i)
					done.Done()
					return nil
				})); err != nil {
					t.Error(err)
					done.Done()
				}
			}
		}()
	}
	wg.Wait()
	close(release)
	done.Wait()

	var runs int
	mctest.OnLoop(t, el, func() { runs = l.inbox.runs })
	if runs != 1 {
		t.Errorf("%d posts ran in %d batches, want 1", posters*each, runs)
	}
	for g, s := range seen {
		if len(s) != each {
			t.Fatalf("poster %d: %d of %d results ran", g, len(s), each)
		}
		for i, v := range s {
			if v != i {
				t.Fatalf("poster %d: result %d ran in place %d", g, v, i)
			}
		}
	}

	// A post after the batch wakes the loop again.
	ran := make(chan struct{})
	if err := l.post(gnet.RunnableFunc(func(context.Context) error { close(ran); return nil })); err != nil {
		t.Fatal(err)
	}
	<-ran
}

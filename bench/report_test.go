package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The tables printed when the run ends (the harness table: one row per
// sub-benchmark; one table per scale curve) and, with -bench.out DIR,
// DIR/results.md with the same tables and DIR/curve-<name>.png per curve.

type row struct {
	name  string
	m     metrics
	curve string  // scale curve the row belongs to, "" for none
	x     float64 // its position on the curve
}

var (
	rowsMu sync.Mutex
	rows   []row
)

// record keeps r, replacing an earlier row of the same name (the framework
// runs a sub-benchmark several times as it grows b.N; the last run counts).
func record(r row) {
	rowsMu.Lock()
	defer rowsMu.Unlock()
	for i := range rows {
		if rows[i].name == r.name {
			rows[i] = r
			return
		}
	}
	rows = append(rows, r)
}

// columns of the harness table, in order; metrics not listed here go to
// the last column.
var columns = []struct{ metric, head, format string }{
	{"req/s", "req/s", "%.0f"},
	{"p50-µs", "p50 µs", "%.0f"},
	{"p99-µs", "p99 µs", "%.0f"},
	{"p999-µs", "p99.9 µs", "%.0f"},
	{"cpu-µs/req", "cpu µs/req", "%.2f"},
	{"mc-cpu-µs/req", "memcached cpu µs/req", "%.2f"},
	{"allocs/req", "allocs/req", "%.3f"},
	{"rss-MB", "RSS MB", "%.1f"},
	{"errors", "errors", "%.0f"},
}

func fmtMetric(name string, v float64) string {
	for _, c := range columns {
		if c.metric == name {
			return fmt.Sprintf(c.format, v)
		}
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// writeTables writes the harness table and one table per curve, markdown.
func writeTables(w io.Writer, rs []row) {
	fmt.Fprintln(w, "| benchmark | "+strings.Join(heads(), " | ")+" | other |")
	fmt.Fprintln(w, "|---"+strings.Repeat("|---:", len(columns))+"|---|")
	for _, r := range rs {
		cells := []string{strings.TrimPrefix(r.name, "Benchmark")}
		for _, c := range columns {
			if v, ok := r.m.get(c.metric); ok {
				cells = append(cells, fmtMetric(c.metric, v))
			} else {
				cells = append(cells, "")
			}
		}
		var other []string
		for _, x := range r.m {
			if !isColumn(x.name) {
				other = append(other, x.name+" "+fmtMetric(x.name, x.v))
			}
		}
		cells = append(cells, strings.Join(other, ", "))
		fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
	}
	for _, c := range curveNames(rs) {
		pts := curvePoints(rs, c)
		fmt.Fprintf(w, "\nScale curve %q:\n\n", c)
		names := []string{}
		for _, x := range pts[0].m {
			if x.name != "errors" {
				names = append(names, x.name)
			}
		}
		fmt.Fprintln(w, "| "+curveAxis[c]+" | "+strings.Join(names, " | ")+" |")
		fmt.Fprintln(w, "|---:"+strings.Repeat("|---:", len(names))+"|")
		for _, p := range pts {
			cells := []string{xLabel(c, p.x)}
			for _, n := range names {
				v, _ := p.m.get(n)
				cells = append(cells, fmtMetric(n, v))
			}
			fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
		}
	}
}

func heads() []string {
	var h []string
	for _, c := range columns {
		h = append(h, c.head)
	}
	return h
}

func isColumn(name string) bool {
	for _, c := range columns {
		if c.metric == name {
			return true
		}
	}
	return false
}

var curveAxis = map[string]string{
	"conns":     "open connections",
	"loops":     "-loops",
	"memcached": "memcached servers",
	"size":      "page size",
}

func xLabel(curve string, x float64) string {
	if curve == "size" {
		return sizeName(int(x))
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

func curveNames(rs []row) []string {
	var names []string
	for _, r := range rs {
		if r.curve != "" && !contains(names, r.curve) {
			names = append(names, r.curve)
		}
	}
	return names
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func curvePoints(rs []row, curve string) []row {
	var pts []row
	for _, r := range rs {
		if r.curve == curve {
			pts = append(pts, r)
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].x < pts[j].x })
	return pts
}

// plotCurve writes one PNG: req/s, CPU µs per request (the proxy's, and
// memcached's where there is one) and RSS against the curve's variable.
func plotCurve(path, curve string, pts []row, title string) error {
	panels := []struct {
		label   string
		metrics []string
	}{
		{"req/s", []string{"req/s"}},
		{"CPU µs per request", []string{"cpu-µs/req", "mc-cpu-µs/req"}},
		{"RSS MB", []string{"rss-MB", "idle-MB"}},
	}
	logX := curve == "conns" || curve == "size" || curve == "memcached"
	grid := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		if i == 0 {
			p.Title.Text = title
		}
		p.X.Label.Text = curveAxis[curve]
		p.Y.Label.Text = pn.label
		p.Y.Min = 0
		if logX {
			p.X.Scale = plot.LogScale{}
		}
		p.X.Tick.Marker = xTicks{curve, pts}
		p.Add(plotter.NewGrid())
		for j, m := range pn.metrics {
			var xys plotter.XYs
			for _, r := range pts {
				if v, ok := r.m.get(m); ok {
					xys = append(xys, plotter.XY{X: r.x, Y: v})
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color = plotutilColor(j)
			points.Color = plotutilColor(j)
			p.Add(line, points)
			if len(pn.metrics) > 1 {
				p.Legend.Add(legendName(m), line, points)
			}
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.XOffs = vg.Points(8)
		grid[i] = []*plot.Plot{p}
	}
	img := vgimg.New(vg.Points(560), vg.Points(760))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4),
		PadLeft: vg.Points(4), PadRight: vg.Points(12), PadY: vg.Points(10)}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		grid[i][0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func legendName(m string) string {
	switch m {
	case "cpu-µs/req":
		return "mcpage"
	case "mc-cpu-µs/req":
		return "memcached"
	case "rss-MB":
		return "mcpage under load"
	case "idle-MB":
		return "idle connections (above baseline)"
	}
	return m
}

type drawColor = color.RGBA

func plotutilColor(i int) drawColor {
	cs := []drawColor{{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, {R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}}
	return cs[i%len(cs)]
}

// xTicks labels exactly the measured points.
type xTicks struct {
	curve string
	pts   []row
}

func (t xTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, p := range t.pts {
		ts = append(ts, plot.Tick{Value: p.x, Label: xLabel(t.curve, p.x)})
	}
	return ts
}

// environment describes the machine for the results' header.
func environment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s UTC, %d cores", time.Now().UTC().Format("2006-01-02 15:04"), runtime.NumCPU())
	if cpu := cpuModel(); cpu != "" {
		fmt.Fprintf(&b, " (%s)", cpu)
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		fmt.Fprintf(&b, ", Linux %s", bytes.TrimSpace(out))
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(la))
		if len(f) >= 3 {
			fmt.Fprintf(&b, ", load average %s %s %s at the end", f[0], f[1], f[2])
		}
	}
	fmt.Fprintf(&b, ", %s", runtime.Version())
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		fmt.Fprintf(&b, ", commit %s", bytes.TrimSpace(out))
	}
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// finish prints the tables and, with -bench.out, writes results.md and
// the plots.
func finish() error {
	rowsMu.Lock()
	rs := append([]row(nil), rows...)
	rowsMu.Unlock()
	if len(rs) == 0 {
		return nil
	}
	var tb bytes.Buffer
	writeTables(&tb, rs)
	fmt.Printf("\nmcpage load suites, %s\n\n%s", environment(), tb.String())
	if *flagOut == "" {
		return nil
	}
	if err := os.MkdirAll(*flagOut, 0o755); err != nil {
		return err
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# mcpage load suites\n\n%s\n\n", environment())
	fmt.Fprintf(&md, "Load generator: bench/loadgen_test.go (one gnet event loop), %d connections per scenario (pipelined: %d requests in flight each).\n\n", conns(), pipeDepth())
	md.Write(tb.Bytes())
	for _, c := range curveNames(rs) {
		name := "curve-" + c + ".png"
		if err := plotCurve(filepath.Join(*flagOut, name), c, curvePoints(rs, c), "mcpage: "+curveAxis[c]); err != nil {
			return fmt.Errorf("plot %s: %v", c, err)
		}
		fmt.Fprintf(&md, "\n![%s](%s)\n", curveAxis[c], name)
	}
	return os.WriteFile(filepath.Join(*flagOut, "results.md"), md.Bytes(), 0o644)
}

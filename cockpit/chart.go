package cockpit

import (
	"math"
	"strconv"
	"strings"
)

// point is one value of a series with its label (a period or a run).
type point struct {
	Label  string
	Value  *float64
	Status string
}

// chart is an SVG line chart drawn here: the polyline's points and a dot
// per value, in a viewBox of W×H.
type chart struct {
	W, H     int
	Line     string
	Dots     []dot
	Min, Max string
	First    string
	Last     string
	Empty    bool
}

// dot is one value on a chart.
type dot struct {
	X, Y   string
	Status string
	Title  string
}

// draw lays the values of ps out in a w×h box with pad units of margin.
func draw(ps []point, w, h, pad int, format func(float64) string) chart {
	c := chart{W: w, H: h}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		if p.Value != nil {
			lo, hi = math.Min(lo, *p.Value), math.Max(hi, *p.Value)
		}
	}
	if math.IsInf(lo, 1) {
		c.Empty = true
		return c
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	c.Min, c.Max = format(lo), format(hi)
	c.First, c.Last = ps[0].Label, ps[len(ps)-1].Label
	var line []string
	for i, p := range ps {
		if p.Value == nil {
			continue
		}
		x := float64(pad)
		if len(ps) > 1 {
			x += float64(i) * float64(w-2*pad) / float64(len(ps)-1)
		} else {
			x = float64(w) / 2
		}
		y := float64(h-pad) - (*p.Value-lo)/(hi-lo)*float64(h-2*pad)
		xs, ys := strconv.FormatFloat(x, 'f', 1, 64), strconv.FormatFloat(y, 'f', 1, 64)
		line = append(line, xs+","+ys)
		c.Dots = append(c.Dots, dot{X: xs, Y: ys, Status: p.Status, Title: p.Label + ": " + format(*p.Value)})
	}
	c.Line = strings.Join(line, " ")
	return c
}

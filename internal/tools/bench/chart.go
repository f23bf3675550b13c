package main

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// chartColor is a target's bars: the ceiling grey, the service's
// configurations and the peers in Okabe–Ito colours, which stay apart for
// colour-blind readers.
func chartColor(target string) color.Color {
	switch target {
	case targetApollo:
		return color.RGBA{R: 213, G: 94, B: 0, A: 255}
	case targetMercurius:
		return color.RGBA{R: 0, G: 158, B: 115, A: 255}
	case targetCacheOn:
		return color.RGBA{R: 0, G: 114, B: 178, A: 255}
	case targetCacheOff:
		return color.RGBA{R: 230, G: 159, B: 0, A: 255}
	case targetGqlgen:
		return color.RGBA{R: 204, G: 121, B: 167, A: 255}
	}
	return color.RGBA{R: 150, G: 150, B: 150, A: 255}
}

// WriteChart draws each query's req/s as grouped bars, one per target in the
// table's order, with the service's share of the ceiling above its bars,
// and saves it as a PNG.
func (r *Report) WriteChart(path string) error {
	var queries []string
	for _, row := range r.Demo {
		if row.Target == targetCeiling {
			queries = append(queries, row.Query)
		}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Requests per second on one core, %d connections (demo dataset)", r.Config.Clients)
	p.Y.Label.Text = "req/s (labels: share of the ceiling)"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false

	const barWidth = vg.Length(16)
	targets := targetNames()
	for _, p := range peerTargets() {
		if slices.ContainsFunc(r.Demo, func(row Row) bool { return row.Target == p.name }) {
			targets = append(targets, p.name) // measured with -peers
		}
	}
	for i, target := range targets {
		values := make(plotter.Values, len(queries))
		labels := plotter.XYLabels{XYs: make(plotter.XYs, len(queries)), Labels: make([]string, len(queries))}
		for j, q := range queries {
			row, ok := r.row(r.Demo, q, target)
			values[j] = row.ReqPerSec
			labels.XYs[j] = plotter.XY{X: float64(j), Y: row.ReqPerSec}
			if !ok {
				continue // a query the target does not run: the peers and the 304
			}
			if target == targetCeiling {
				labels.Labels[j] = fmt.Sprintf("%.0fk", row.ReqPerSec/1000)
			} else {
				labels.Labels[j] = ratioText(row.Ratio)
			}
		}
		bars, err := plotter.NewBarChart(values, barWidth)
		if err != nil {
			return err
		}
		bars.Color = chartColor(target)
		bars.LineStyle.Width = 0
		// The group centred on its query's tick.
		offset := barWidth * (vg.Length(i) - vg.Length(len(targets)-1)/2)
		bars.Offset = offset
		p.Add(bars)
		p.Legend.Add(target, bars)

		text, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range text.TextStyle {
			text.TextStyle[k].Font.Size = vg.Points(7)
			text.TextStyle[k].XAlign = -0.5 // centred on the bar
		}
		text.Offset = vg.Point{X: offset, Y: 2}
		p.Add(text)
	}
	p.NominalX(queries...)
	// Room for the groups' outer bars, and above the tallest for the legend.
	p.X.Min, p.X.Max = -0.7, float64(len(queries))-0.3
	p.Y.Max *= 1.3
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p.Save(9*vg.Inch, 4.5*vg.Inch, path)
}

// ratioText is a share of the ceiling, with a decimal below 10%.
func ratioText(r float64) string {
	if r < 0.1 {
		return fmt.Sprintf("%.1f%%", 100*r)
	}
	return fmt.Sprintf("%.0f%%", 100*r)
}

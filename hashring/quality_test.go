package hashring

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

var qualityReport = flag.Bool("quality", false, "run TestQualityReport in full (1,000,000 keys, 2 to 100 members) and print its table")

// Targets DefaultConfig is chosen to meet; see its comment.
const (
	maxOverMeanTarget  = 1.15
	movedOverMinTarget = 1.10
)

// qualityRow is one line of the quality report.
type qualityRow struct {
	members int
	// maxOverMean and minOverMean: the most and least loaded member's
	// keys over the mean.
	maxOverMean, minOverMean float64
	// leaveWorst and leaveMean: over every member leaving in turn, the keys
	// that change owner over the keys the member had.
	leaveWorst, leaveMean float64
	// joinWorst and joinMean: over several new members joining in turn,
	// the keys that change owner over the keys the new member gets.
	joinWorst, joinMean float64
}

// measureQuality builds rings of cfg for each member count and measures
// how keys spread and how many move when a member leaves or joins.
//
// leaves limits how many members leave in turn (evenly spaced by name; 0
// means every one).
func measureQuality(t testing.TB, cfg Config, memberCounts []int, keyCount, leaves, joins int) []qualityRow {
	t.Helper()
	// Keys only matter through their partition: count them per partition.
	counts := make([]int, cfg.Partitions)
	empty := mustNew(t, nil, cfg)
	for _, key := range testKeys(keyCount, 42) {
		counts[empty.Partition(key)]++
	}
	// keysOf returns each member's keys in r by name.
	keysOf := func(r *Ring) map[string]int {
		out := make(map[string]int, r.Len())
		for p, c := range counts {
			out[r.Member(r.Owner(p)).Name] += c
		}
		return out
	}
	// moved returns the keys whose owner differs between a and b.
	moved := func(a, b *Ring) int {
		n := 0
		for p, c := range counts {
			if a.Member(a.Owner(p)).Name != b.Member(b.Owner(p)).Name {
				n += c
			}
		}
		return n
	}

	var rows []qualityRow
	for _, n := range memberCounts {
		names := memberNames(n + joins)
		r := mustNew(t, equalMembers(n), cfg)
		row := qualityRow{members: n, minOverMean: 1e9}
		mean := float64(keyCount) / float64(n)
		keys := keysOf(r)
		for _, k := range keys {
			row.maxOverMean = max(row.maxOverMean, float64(k)/mean)
			row.minOverMean = min(row.minOverMean, float64(k)/mean)
		}
		if n > 1 {
			tries := n
			if leaves > 0 {
				tries = min(n, leaves)
			}
			sum := 0.0
			for try := range tries {
				i := try * n / tries
				ratio := float64(moved(r, r.Without(i))) / float64(keys[r.Member(i).Name])
				row.leaveWorst = max(row.leaveWorst, ratio)
				sum += ratio
			}
			row.leaveMean = sum / float64(tries)
		}
		sum := 0.0
		for j := range joins {
			joined := mustNew(t, append(equalMembers(n), Member{Name: names[n+j]}), cfg)
			ratio := float64(moved(r, joined)) / float64(keysOf(joined)[names[n+j]])
			row.joinWorst = max(row.joinWorst, ratio)
			sum += ratio
		}
		row.joinMean = sum / float64(joins)
		rows = append(rows, row)
	}
	return rows
}

// writeQualityTable writes rows as a Markdown table.
func writeQualityTable(w io.Writer, cfg Config, keyCount, leaves, joins int, rows []qualityRow) {
	fmt.Fprintf(w, "Partitions %d, replication %d, load %.2f; %d random 16-byte keys; members named http://10.0.x.y:8080.\n\n",
		cfg.Partitions, cfg.Replication, cfg.Load, keyCount)
	fmt.Fprintln(w, "| members | max/mean | min/mean | moved/minimum, one leaves (worst) | (mean) | moved/minimum, one joins (worst) | (mean) |")
	fmt.Fprintln(w, "|--------:|---------:|---------:|----------------------------------:|-------:|---------------------------------:|-------:|")
	for _, r := range rows {
		leaveWorst, leaveMean := fmt.Sprintf("%.3f", r.leaveWorst), fmt.Sprintf("%.3f", r.leaveMean)
		if r.members == 1 {
			leaveWorst, leaveMean = "-", "-"
		}
		fmt.Fprintf(w, "| %d | %.3f | %.3f | %s | %s | %.3f | %.3f |\n",
			r.members, r.maxOverMean, r.minOverMean, leaveWorst, leaveMean, r.joinWorst, r.joinMean)
	}
	leaving := "every member in turn"
	if leaves > 0 {
		leaving = fmt.Sprintf("up to %d members in turn", leaves)
	}
	fmt.Fprintf(w, "\nLeaving: %s. Joining: %d new members in turn. Minimum: the keys the member had, or gets.\n", leaving, joins)
}

// TestQualityReport checks DefaultConfig against its targets: the most
// loaded member has at most 1.15 times the mean keys, and a member leaving
// or joining moves at most 1.10 times the keys it had or gets.
//
// The normal run checks a reduced set quickly. The full report, the table
// in README.md, comes from
//
//	go test ./hashring -run TestQualityReport -quality -v -count=1
func TestQualityReport(t *testing.T) {
	cfg := DefaultConfig()
	memberCounts, keyCount, leaves, joins := []int{2, 5, 100}, 1_000_000, 8, 3
	if *qualityReport {
		memberCounts, leaves, joins = []int{2, 3, 5, 10, 20, 50, 100}, 0, 10
	}
	rows := measureQuality(t, cfg, memberCounts, keyCount, leaves, joins)

	var table strings.Builder
	writeQualityTable(&table, cfg, keyCount, leaves, joins, rows)
	if *qualityReport {
		fmt.Print("\n", table.String(), "\n")
		fmt.Printf("Build time, %d members: %v (median of 5)\n\n", 100, medianBuild(t, equalMembers(100), cfg, 5))
	} else {
		t.Log("\n" + table.String())
	}
	for _, r := range rows {
		if r.maxOverMean > maxOverMeanTarget {
			t.Errorf("%d members: max/mean %.3f over %.2f", r.members, r.maxOverMean, maxOverMeanTarget)
		}
		if r.leaveWorst > movedOverMinTarget {
			t.Errorf("%d members: one leaving moves %.3f times the minimum, over %.2f", r.members, r.leaveWorst, movedOverMinTarget)
		}
		if r.joinWorst > movedOverMinTarget {
			t.Errorf("%d members: one joining moves %.3f times the minimum, over %.2f", r.members, r.joinWorst, movedOverMinTarget)
		}
		if r.minOverMean <= 0 {
			t.Errorf("%d members: a member gets no keys", r.members)
		}
	}
}

func medianBuild(t testing.TB, members []Member, cfg Config, runs int) time.Duration {
	times := make([]time.Duration, runs)
	for i := range times {
		start := time.Now()
		mustNew(t, members, cfg)
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[runs/2].Round(100 * time.Microsecond)
}

// TestQualityCatchesBadShapes makes sure the measurement can fail: shapes
// known to miss the targets must be seen to miss them.
func TestQualityCatchesBadShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("measures rings")
	}
	tests := []struct {
		name string
		cfg  Config
		miss func(qualityRow) bool
	}{
		// Few points and a loose bound: the ring's own imbalance shows.
		{"loose", Config{Partitions: 4099, Replication: 20, Load: 1.5}, func(r qualityRow) bool { return r.maxOverMean > maxOverMeanTarget }},
		// A tight bound binds everywhere and cascades.
		{"tight", Config{Partitions: 4099, Replication: 20, Load: 1.02}, func(r qualityRow) bool {
			return r.leaveWorst > movedOverMinTarget || r.joinWorst > movedOverMinTarget
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := measureQuality(t, tc.cfg, []int{10}, 50_000, 0, 2)
			if !tc.miss(rows[0]) {
				t.Errorf("%+v meets the targets: %+v", tc.cfg, rows[0])
			}
		})
	}
}

#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# charts.sh - draw the benchmarks' own output as SVG charts (gnuplot).
#   scripts/charts.sh BUILD_DIR [OUT_DIR]     (make charts: BUILD_DIR = .)
# Runs the producers that exist in BUILD_DIR, keeps their raw output in
# OUT_DIR/data/ (default bench/charts/) and draws:
#   cluster-rate.svg   floodgate-cluster-demo: what each node and the
#                      cluster admitted per second against the limit
#   converge-cdf.svg   bench/daemon_converge 3 8 16 32: CDF of the time
#                      until every node shows a token
#   check-cost.svg     bench/table_bench (FG_COST_RAW): the cost of a
#                      check per key of a full table, against the clock
#                      read and the CAS limit measured beside it
#   overshoot-loss.svg tests/netns/test_netns's loss sweep (root):
#                      admitted / budget against gossip loss
# A chart whose producer is missing is skipped with a line saying so.
# Set CHARTS_REUSE=1 to redraw from OUT_DIR/data without running anything.
#
# Formats parsed (producers that change them must update this script):
#   demo.out      the table of floodgate-cluster-demo: lines
#                 "T s N0 N1 N2 TOTAL PCT% ..." and the line
#                 "    rule NAME capacity C rate R/1s ..." (the limit R)
#   converge.raw  FG_CONVERGE_RAW of bench/daemon_converge: "N MS" a trial
#                 (MS "timeout" for a trial that timed out)
#   cost.raw      "ns V" per sampled check, then "limit NAME V" lines for
#                 the limits measured in the same run (e.g. "limit cas 6.1")
#   loss.raw      "LOSS RATIO NODES" lines: loss in %, admitted / budget
set -eu
build=${1:?usage: charts.sh BUILD_DIR [OUT_DIR]}
src=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$src/bench/charts}
data=$out/data
mkdir -p "$data"
command -v gnuplot >/dev/null || { echo "charts: gnuplot not found (Debian: gnuplot-nox)"; exit 1; }

run() { # run NAME FILE CMD...: CMD's stdout into FILE, unless reusing
	local name=$1 file=$2
	shift 2
	[ "${CHARTS_REUSE:-0}" = 1 ] && return 0
	if [ ! -x "$1" ]; then
		echo "charts: $name: $1 not built, skipped"
		return 1
	fi
	echo "charts: $name: $*"
	"$@" >"$file" 2>"$file.err" || echo "charts: $name: exit status $? (see $file.err)"
}

style='set terminal svg size 800,450 dynamic font "sans,12" background "#ffffff"
set grid lc rgb "#dddddd"; set border lc rgb "#666666"; set key top right'

# -- cluster: admitted per second, per node and in total, against the limit
run cluster "$data/demo.out" "$build/demo/floodgate-cluster-demo" -d 20 \
	-D "$build/daemon/floodgated" || true
if [ -s "$data/demo.out" ]; then
	awk '$2 == "s" && $1 ~ /^[0-9.]+$/ { print $1, $3, $4, $5, $6 }' \
		"$data/demo.out" >"$data/demo.dat"
	limit=$(sed -n 's/^ *rule [^ ]* capacity [0-9]* rate \([0-9]*\)\/1s.*/\1/p' \
		"$data/demo.out" | head -1)
	gnuplot <<GP
$style
set output "$out/cluster-rate.svg"
set title "Three daemons, one global limit: admitted per second (floodgate-cluster-demo)"
set xlabel "time (s)"; set ylabel "admitted per second"
set yrange [0:*]
plot "$data/demo.dat" u 1:5 w lp lw 2 pt 7 ps 0.5 lc rgb "#1f77b4" t "cluster", \
     "" u 1:2 w l lc rgb "#2ca02c" t "node0", \
     "" u 1:3 w l lc rgb "#ff7f0e" t "node1", \
     "" u 1:4 w l lc rgb "#9467bd" t "node2", \
     ${limit:-0} w l dt 2 lw 2 lc rgb "#d62728" t "limit (${limit:-?}/s)"
GP
	echo "charts: $out/cluster-rate.svg"
fi

# -- convergence: CDF of the time until every node shows one token
if [ "${CHARTS_REUSE:-0}" != 1 ]; then
	rm -f "$data/converge.raw"
	FG_CONVERGE_RAW=$data/converge.raw run converge "$data/converge.out" \
		"$build/bench/daemon_converge" "$build/daemon/floodgated" \
		3 8 16 32 || true
fi
if [ -s "$data/converge.raw" ]; then
	plots=
	for n in $(awk '{ print $1 }' "$data/converge.raw" | sort -nu); do
		awk -v n="$n" '$1 == n && $2 != "timeout" { v[++k] = $2 }
			$1 == n { t++ }
			END { for (i = 1; i <= k; i++) print v[i], i / t }' \
			"$data/converge.raw" >"$data/converge-$n.dat"
		plots="$plots${plots:+, }\"$data/converge-$n.dat\" u 1:2 w steps lw 2 t \"$n daemons\""
	done
	gnuplot <<GP
$style
set output "$out/converge-cdf.svg"
set title "Time until every daemon shows one node's token (bench/daemon\\\\_converge, 100 ms rounds)"
set xlabel "milliseconds"; set ylabel "share of trials"; set key bottom right
set yrange [0:1.05]; set xrange [0:*]
plot $plots
GP
	echo "charts: $out/converge-cdf.svg"
fi

# -- per-check cost against the limits measured in the same run
if [ "${CHARTS_REUSE:-0}" != 1 ]; then
	rm -f "$data/cost.raw"
	FG_COST_RAW=$data/cost.raw run cost "$data/table_bench.out" \
		"$build/bench/table_bench" -r 1 -i 0 || true
fi
if [ -s "$data/cost.raw" ]; then
	awk '$1 == "ns" { print $2 }' "$data/cost.raw" | sort -n |
		awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) print v[i], i / NR }' \
		>"$data/cost.dat"
	arrows=$(awk '$1 == "limit" { printf "set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lc rgb \"#d62728\"; set label \"%s\" at %s, graph 0.95 rotate by 90 right tc rgb \"#d62728\"\n", $3, $3, $2, $3 }' "$data/cost.raw")
	gnuplot <<GP
$style
set output "$out/check-cost.svg"
set title "Cost of one check, per key of a full table (bench/table\\\\_bench), against the limits of the same run"
set xlabel "nanoseconds"; set ylabel "share of checks"; set logscale x
$arrows
plot "$data/cost.dat" u 1:2 w steps lw 2 lc rgb "#1f77b4" t "fg_allow"
GP
	echo "charts: $out/check-cost.svg"
else
	echo "charts: check cost: no $data/cost.raw (bench/table_bench not built?), skipped"
fi

# -- overshoot against loss: the loss sweep of tests/netns/test_netns
# (root: network namespaces), three nodes, 0 to 50 %
if [ "${CHARTS_REUSE:-0}" != 1 ]; then
	rm -f "$data/loss.raw"
	FG_LOSS_RAW=$data/loss.raw FLOODGATED=$build/daemon/floodgated \
		FG_NETNS_RELAY=$build/tests/netns/relay run loss "$data/loss.out" \
		"$build/tests/netns/test_netns" \
		--filter='*/three_nodes_stay_within_the_target_*' || true
fi
if [ -s "$data/loss.raw" ]; then
	gnuplot <<GP
$style
set output "$out/overshoot-loss.svg"
set title "Admitted over the budget against gossip loss"
set xlabel "datagrams lost (%)"; set ylabel "admitted / budget"
set yrange [0.9:*]
plot "$data/loss.raw" u 1:2 w lp lw 2 pt 7 lc rgb "#1f77b4" t "three nodes, 10 s each", 1.05 w l dt 2 lc rgb "#d62728" t "target (1.05)", 1 w l dt 3 lc rgb "#666666" t "budget"
GP
	echo "charts: $out/overshoot-loss.svg"
else
	echo "charts: overshoot: no $data/loss.raw (test_netns needs root), skipped"
fi

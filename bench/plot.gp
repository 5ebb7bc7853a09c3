# SPDX-License-Identifier: GPL-2.0
# One PNG per measured figure of bench/ from the data files bench/report.py
# writes (timings and counts only):
#
#   gnuplot -e "fig=N; dat='DIR/figN.dat'; out='X.png'; sub='machine, date'" bench/plot.gp
set terminal pngcairo noenhanced size 900,520 font 'sans,10'
set output out
set grid ytics
set key top left
set style fill solid 0.8 border -1
set boxwidth 0.6
if (fig == 1) {
	set title "Figure 1: CHILD_SA rekey time on one IKE_SA, interleaved (initiator's log)\n".sub
	set xlabel 'ms from "generating CREATE_CHILD_SA request" to "outbound CHILD_SA ... established"'
	set ylabel 'fraction of rekeys (CDF)'
	set yrange [0:1.05]
	set key bottom right
	plot dat index 0 using 3:4 with steps lw 2 title 'qkd (X25519 + QKD key)', \
	     dat index 1 using 3:4 with steps lw 2 title 'x25519', \
	     dat index 2 using 3:4 with steps lw 2 title 'ecp256'
}
if (fig == 2) {
	set title "Figure 2: qkd rekeys with qkd-agent and the simulator (responder's key fetched by ID)\n".sub
	set xlabel 'ms from "generating CREATE_CHILD_SA request" to "outbound CHILD_SA ... established"'
	set ylabel 'fraction of rekeys (CDF)'
	set yrange [0:1.05]
	set key bottom right
	plot dat index 0 using 3:4 with steps lw 2 title 'qkd, keys from the agents', \
	     dat index 1 using 3:4 with steps lw 2 title 'qkd, keys pre-injected (figure 1)', \
	     dat index 2 using 3:4 with steps lw 2 title 'x25519, interleaved with the agent rekeys'
}
if (fig == 3) {
	set title "Figure 3: ESP packets per SA across the rekeys, counted on both gateways\n".sub
	set xlabel 'SA (in the order they appeared; a new pair per rekey)'
	set ylabel 'packets on the SA'
	set y2label 'lost on the SA (sender - receiver)'
	set ytics nomirror
	set y2tics
	set yrange [0:*]
	set y2range [0:*]
	stats dat index 0 using 1 name 'SA' nooutput
	set xtics ceil(SA_max / 10.0)
	set xrange [0.5:SA_max + 0.5]
	set key below horizontal
	set size ratio 0.45
	plot dat index 0 using 1:2 with points pt 7 ps 0.8 title 'a->b, at a (out SA)', \
	     dat index 0 using 1:3 with points pt 1 ps 1.4 title 'a->b, at b (in SA)', \
	     dat index 1 using 1:2 with points pt 5 ps 0.8 title 'b->a, at b (out SA)', \
	     dat index 1 using 1:3 with points pt 2 ps 1.4 title 'b->a, at a (in SA)', \
	     dat index 0 using 1:4 axes x1y2 with impulses lw 2 title 'lost a->b', \
	     dat index 1 using 1:4 axes x1y2 with impulses lw 2 title 'lost b->a'
}
if (fig == 4) {
	set title "Figure 4: one key from the module vs one key from a KME (same guest)\n".sub
	set ylabel 'microseconds per key (log)'
	set logscale y
	set style data histogram
	set style histogram cluster gap 1
	plot dat using 2:xtic(1) title 'median', '' using 3 title 'p90'
}
if (fig == 5) {
	set title "Figure 5: one take vs the genetlink floor (CTRL_CMD_GETFAMILY)\n".sub
	set ylabel 'microseconds per round trip'
	set yrange [0:*]
	plot dat using 0:2:xtic(1) with boxes notitle
}
if (fig == 6) {
	set title "Figure 6: key injection rate by batch size\n".sub
	set xlabel 'keys per KEY_INJECT message'
	set ylabel 'keys/s (log)'
	set logscale y
	plot dat using 0:2:xtic(1) with boxes notitle
}
if (fig == 7) {
	set title "Figure 7: kernel memory per buffered 32-byte key\n".sub
	set xlabel 'keys buffered (log)'
	set ylabel 'bytes per key'
	set logscale x
	set yrange [0:*]
	set key top right
	plot dat using 1:2 with linespoints lw 2 pt 7 title '/proc/meminfo Slab delta', \
	     dat using 1:3 with linespoints lw 2 pt 5 title 'qkd_key_32 cache', \
	     128 with lines dt 2 lc rgb '#808080' title 'goal 128 B'
}

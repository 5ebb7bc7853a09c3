# SPDX-License-Identifier: GPL-2.0
# One PNG per measured figure of bench/ from the data files bench/report.py
# writes (timings and counts only):
#
#   gnuplot -e "fig=N; dat='DIR/figN.dat'; out='X.png'; sub='machine, date'" bench/plot.gp
set terminal pngcairo size 900,520 font 'sans,10'
set output out
set grid ytics
set key top left
set style fill solid 0.8 border -1
set boxwidth 0.6
if (fig == 1) {
	set title "Figure 1: CHILD_SA rekey time on one IKE_SA, interleaved (initiator's log)\n".sub
	set xlabel 'ms from "generating CREATE_CHILD_SA request" to "CHILD_SA ... established"'
	set ylabel 'fraction of rekeys (CDF)'
	set yrange [0:1.05]
	set key bottom right
	plot dat index 0 using 3:4 with steps lw 2 title 'qkd (X25519 + QKD key)', \
	     dat index 1 using 3:4 with steps lw 2 title 'x25519', \
	     dat index 2 using 3:4 with steps lw 2 title 'ecp256'
}
if (fig == 3) {
	set title "Figure 3: ESP packets across the rekeys, counted on the SAs of both gateways\n".sub
	set style data histogram
	set style histogram cluster gap 1
	set ylabel 'packets'
	set yrange [0:*]
	plot dat using 2:xtic(1) title 'sent (stream / b replies)', '' using 3 title 'on the sender''s out SAs', \
	     '' using 4 title 'on the receiver''s in SAs'
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
	set title "Figure 5: one take vs the genetlink floor (CTRL\\_CMD\\_GETFAMILY)\n".sub
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
	     dat using 1:3 with linespoints lw 2 pt 5 title 'qkd\_key\_32 cache', \
	     128 with lines dt 2 lc rgb '#808080' title 'goal 128 B'
}

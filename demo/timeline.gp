# SPDX-License-Identifier: GPL-2.0
# The picture of a demo run (demo/guest.sh writes timeline.csv, one row per
# rekey and per QKD link change; counts only, nothing secret):
#
#   gnuplot -e "in='timeline.csv'; out='demo-run.png'" demo/timeline.gp
#
# Key pools of both gateways over time, every rekey marked by how it was
# keyed (X25519 + QKD key, or X25519 alone under policy prefer), the QKD
# link outage shaded, ping replies on the right axis.
set datafile separator ','
set terminal pngcairo size 1100,560 font 'sans,10'
set output out
set title 'qkd-ipsec demo: QKD key pools, rekeys and traffic (QKD link outage shaded)'
set xlabel 'seconds since the demo started'
set ylabel 'initiator keys in the module link'
set y2label 'ping replies (cumulative)'
set ytics nomirror
set y2tics
set yrange [-1.5:*]
set ytics 1
set key below horizontal
set grid xtics ytics

# the outage: from the 'cut' row to the 'restore' row (none: no shading)
CUT = NaN
RESTORE = NaN
stats in skip 1 using (strcol(5) eq 'cut' ? $1 : 1/0) name 'C' nooutput
CUT = C_min
stats in skip 1 using (strcol(5) eq 'restore' ? $1 : 1/0) name 'R' nooutput
RESTORE = R_min
set object 1 rect from CUT, graph 0 to RESTORE, graph 1 behind \
	fillcolor rgb '#fde0e0' fillstyle solid 1.0 noborder
set label 1 'QKD link down' at CUT, graph 0.95 offset 1,0 textcolor rgb '#a04040'

plot in skip 1 using 1:2 with steps lw 2 lc rgb '#1f77b4' title 'gateway A key pool', \
	'' skip 1 using 1:3 with steps lw 2 lc rgb '#ff7f0e' title 'gateway B key pool', \
	'' skip 1 using 1:(strcol(5) eq 'qkd' ? -0.75 : 1/0) with points pt 7 ps 1.6 \
		lc rgb '#2ca02c' title 'rekey: X25519 + QKD key', \
	'' skip 1 using 1:(strcol(5) eq 'classical' ? -0.75 : 1/0) with points pt 5 ps 1.6 \
		lc rgb '#d62728' title 'rekey: X25519 alone (policy prefer)', \
	'' skip 1 using 1:6 axes x1y2 with lines dt 2 lw 1.5 lc rgb '#555555' title 'ping replies'

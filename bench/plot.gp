# bench/plot.gp: latency and throughput against message size, every transport.
# Called by scripts/run-bench.sh with outfile, fmt (png or svg), dir (one
# DIR/TRANSPORT.dat per transport: index label rtt_us MB/s msgs/s) and trs.
if (fmt eq 'svg') {
        set terminal svg size 1500,600 dynamic font 'sans,12'
} else {
        if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
                set terminal pngcairo size 1500,600 font 'sans,10'
        } else {
                set terminal png size 1500,600
        }
}
set output outfile
# nine transports, nine colours (the default cycle has eight)
set linetype 1 lc rgb '#1b9e77' lw 2 pt 7
set linetype 2 lc rgb '#000000' lw 2 pt 5
set linetype 3 lc rgb '#66a61e' lw 2 pt 9
set linetype 4 lc rgb '#7570b3' lw 2 pt 11
set linetype 5 lc rgb '#d95f02' lw 2 pt 13
set linetype 6 lc rgb '#e7298a' lw 2 pt 4
set linetype 7 lc rgb '#a6761d' lw 2 pt 6
set linetype 8 lc rgb '#1f78b4' lw 2 pt 8
set linetype 9 lc rgb '#999999' lw 2 pt 10
set linetype cycle 9
set multiplot title 'npipe-bench: two processes, median round trip and one-way streaming'
set grid
set logscale y
set xlabel 'message size (bytes)'
set xrange [-0.3:5.3]
label(t) = t eq 'seqpacket' ? 'SOCK\_SEQPACKET' : t eq 'npipe-msg' ? 'npipe message' : \
           t eq 'npipe-byte' ? 'npipe byte' : t eq 'npipe-win32' ? 'npipe Win32 API' : \
           t eq 'wine' ? 'Wine (server queue)' : t eq 'stream' ? 'SOCK\_STREAM+len' : \
           t eq 'pipe' ? 'pipe2(O\_DIRECT)' : t eq 'memfd' ? 'memfd/SCM\_RIGHTS' : \
           t eq 'bare-ring' ? 'bare SPSC ring' : t
unset key
set size 0.333, 0.78
set origin 0.0, 0.17
set ylabel 'round trip, median (us)'
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:3:xtic(2) with linespoints
set origin 0.333, 0.17
set ylabel 'messages per second'
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:5:xtic(2) with linespoints
set origin 0.666, 0.17
set ylabel 'MB/s (10^6 bytes)'
set xrange [0.7:5.3]
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:4:xtic(2) with linespoints
# the legend, once, under the three panels
set origin 0.0, 0.0
set size 1.0, 0.16
unset border
unset tics
unset grid
unset xlabel
unset ylabel
unset logscale
set xrange [0:1]
set yrange [0:1]
set key center center horizontal maxrows 2 font ',11' samplen 3 width 2
plot for [i=1:words(trs)] NaN with linespoints title label(word(trs,i))
unset multiplot

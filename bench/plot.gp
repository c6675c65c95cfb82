# bench/plot.gp: latency and throughput against message size, every transport.
# Called by scripts/run-bench.sh with outfile, fmt (png or svg), dir (one
# DIR/TRANSPORT.dat per transport: index label rtt_us MB/s msgs/s) and trs.
if (fmt eq 'svg') {
        set terminal svg size 1500,520 dynamic font 'sans,12'
} else {
        if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
                set terminal pngcairo size 1500,520 font 'sans,10'
        } else {
                set terminal png size 1500,520
        }
}
set output outfile
set multiplot layout 1,3 title 'npipe-bench: two processes, median round trip and one-way streaming'
set grid
set key top left font ',9'
set logscale y
set xlabel 'message size (bytes)'
set xrange [-0.3:5.3]
label(t) = t eq 'seqpacket' ? 'SOCK\_SEQPACKET' : t eq 'npipe-msg' ? 'npipe message' : \
           t eq 'npipe-byte' ? 'npipe byte' : t eq 'npipe-win32' ? 'npipe Win32 API' : \
           t eq 'wine' ? 'Wine (server queue)' : t eq 'stream' ? 'SOCK\_STREAM+len' : \
           t eq 'pipe' ? 'pipe2(O\_DIRECT)' : t eq 'memfd' ? 'memfd/SCM\_RIGHTS' : t
set ylabel 'round trip, median (us)'
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:3:xtic(2) \
        with linespoints lw 2 title label(word(trs,i))
set key top right
set ylabel 'messages per second'
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:5:xtic(2) \
        with linespoints lw 2 title label(word(trs,i))
set key top left
set ylabel 'MB/s (10^6 bytes)'
set xrange [0.7:5.3]
plot for [i=1:words(trs)] dir.'/'.word(trs,i).'.dat' using 1:4:xtic(2) \
        with linespoints lw 2 title label(word(trs,i))
unset multiplot

# Draws the placement benchmark's TSV (weft_placement_bench --tsv): for one I/O-thread count,
# requests/s (top row) and p99 latency (bottom row) against the work per request, one line per
# policy, one column per connection count.
# gnuplot -e "in='placement.tsv'; out='placement_io1.png'; io=1; conns='1 32 256'; tics='\"0\" 0, \"mixed\" 5'" scripts/plot_placement.gp
# (scripts/bench.sh builds `conns` and `tics` from the TSV)
set terminal pngcairo size 1400,800 noenhanced font ",10"
set output out
set datafile separator "\t"
n = words(conns)
set multiplot layout 2, n title sprintf("weft continuation placement, %d I/O thread(s): inline vs worker pool vs adaptive", io)
set grid
set key top right
set xlabel "work per request (us)"
set offsets 0.3, 0.3, 0, 0
eval("set xtics (" . tics . ")")
set logscale y
sel(policy, c, col) = (column(1) == io && strcol(2) eq policy && column(3) == c) ? column(col) : NaN
do for [row = 1:2] {
  do for [i = 1:n] {
    c = int(word(conns, i))
    if (row == 1) {
      set ylabel "requests/s"
      set title sprintf("%d connections: throughput", c)
      col = 6
    } else {
      set ylabel "p99 latency (us)"
      set title sprintf("%d connections: p99", c)
      col = 7
    }
    plot in u 4:(sel("inline", c, col)) w lp lw 2 pt 7 lc rgb "#7b2cbf" t "inline on I/O thread", \
         in u 4:(sel("pool", c, col)) w lp lw 2 pt 5 lc rgb "#1b9e77" t "worker pool", \
         in u 4:(sel("adaptive", c, col)) w lp lw 2 pt 9 lc rgb "#e6550d" t "adaptive"
  }
}
unset multiplot

# Statistics for the benchmark scripts (compare.sh, rounds.sh), in plain awk
# so that they run wherever the scripts do. Lists are space-separated numbers;
# a run's rate is rate[ROUND " " KEY], and all[KEY] lists a key's rates.
#
# Rates on a shared machine swing by 2x between runs, so a ratio is taken
# within each round (its runs share the round's conditions) and summed up as
# the median over rounds; `interval` says how far that median could move
# with other rounds of the same kind: a percentile bootstrap (resampling the
# rounds with replacement), which assumes nothing of the ratios' spread.

# Sorts a[1..n] in place (Shell's sort: a few thousand values at most).
function stats_sort(a, n,    gap, i, j, t) {
    for (gap = int(n / 2); gap > 0; gap = int(gap / 2))
        for (i = gap + 1; i <= n; i++) {
            t = a[i]
            for (j = i; j > gap && a[j - gap] + 0 > t + 0; j -= gap) a[j] = a[j - gap]
            a[j] = t
        }
}

function stats_median_of(a, n) {
    stats_sort(a, n)
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}

# The median of a list; 0 for an empty one.
function median(list,    a, n) {
    n = split(list, a, " ")
    return n == 0 ? 0 : stats_median_of(a, n)
}

# "lo hi": the 95% interval of the median of `list` by a bootstrap of 2000
# resamples, seeded alike every time, so that the same rounds give the same
# interval. Empty for fewer than 5 values: too few to resample.
function interval(list,    a, n, b, i, s, m, B) {
    n = split(list, a, " ")
    if (n < 5) return ""
    B = 2000
    srand(1)
    for (b = 1; b <= B; b++) {
        for (i = 1; i <= n; i++) s[i] = a[int(rand() * n) + 1]
        m[b] = stats_median_of(s, n)
    }
    stats_sort(m, B)
    return m[int(B * 0.025) + 1] " " m[int(B * 0.975)]
}

# A median with its interval, as "1.04 (0.98-1.10)"; "-" for no values.
function with_interval(list,    iv, p) {
    if (split(list, p, " ") == 0) return "-"
    iv = interval(list)
    if (iv == "") return sprintf("%.2f", median(list))
    split(iv, p, " ")
    return sprintf("%.2f (%.2f-%.2f)", median(list), p[1], p[2])
}

# Whether a run ran under a quarter of its key's median: smoltcp's 1 s
# retransmission waits, which the "clean" ratios leave out.
function stalled(rate, all, key, round) {
    return (round " " key) in rate && rate[round " " key] <= median(all[key]) / 4
}

# How many of rounds 1..rounds stalled for `key`.
function stalls(rate, all, key, rounds,    i, n) {
    for (i = 1; i <= rounds; i++) n += stalled(rate, all, key, i)
    return n + 0
}

# The ratios key/ref within each round of 1..rounds that ran both, as a
# list (a round runs its variants back to back, so its ratio shares that
# round's conditions); with `clean`, without the rounds in which ref stalled.
function ratios(rate, all, key, ref, rounds, clean,    i, l) {
    l = ""
    for (i = 1; i <= rounds; i++)
        if ((i " " key) in rate && (i " " ref) in rate && !(clean && stalled(rate, all, ref, i)))
            l = l " " rate[i " " key] / rate[i " " ref]
    return l
}

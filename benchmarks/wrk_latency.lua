-- Prints latency percentiles wrk's --latency table lacks (p99.9), in microseconds.
done = function(summary, latency, requests)
  for _, p in ipairs({50, 99, 99.9}) do
    io.write(string.format("percentile %g %d\n", p, latency:percentile(p)))
  end
end

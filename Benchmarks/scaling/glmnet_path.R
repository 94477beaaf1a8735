# The glmnet side of Benchmarks/scaling/path_peers.py: the whole path at the given lambdas (mean
# scale, unstandardized, free intercept), as tight as glmnet goes. Prints the median path time (s)
# of `repeats` runs and writes one line per lambda (intercept, coefficients) to `out`.
# Usage: Rscript glmnet_path.R data.csv lambdas.txt repeats out.txt
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(glmnet))
d <- as.matrix(read.csv(args[1]))
y <- d[, 1]
x <- d[, -1, drop = FALSE]
lambda <- scan(args[2], quiet = TRUE)
repeats <- as.integer(args[3])
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  t <- proc.time()[["elapsed"]]
  fit <- glmnet(x, y, family = "binomial", standardize = FALSE, thresh = 1e-14, maxit = 1e6, lambda = lambda)
  times[i] <- proc.time()[["elapsed"]] - t
}
b <- rbind(fit$a0, as.matrix(fit$beta))
write.table(t(b), args[4], sep = ",", row.names = FALSE, col.names = FALSE)
cat(median(times), "\n")

# One glmnet fit for Benchmarks/scaling/peers.py: the mean-scale L1 logistic regression at one
# lambda, unstandardized, as tight as glmnet goes. Prints the median fit time (s) of `repeats`
# fits, and writes the intercept and coefficients to `out`.
# Usage: Rscript glmnet_fit.R data.csv lambda repeats out.txt lambda_max
#        Rscript glmnet_fit.R x.mtx lambda repeats out.txt lambda_max y.txt   (a sparse design)
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(glmnet))
if (length(args) >= 6) {
  x <- as(Matrix::readMM(args[1]), "CsparseMatrix")
  y <- scan(args[6], quiet = TRUE)
} else {
  d <- as.matrix(read.csv(args[1]))
  y <- d[, 1]
  x <- d[, -1, drop = FALSE]
}
lambda <- as.numeric(args[2])
repeats <- as.integer(args[3])
times <- numeric(repeats)
for (i in seq_len(repeats)) {
  t <- proc.time()[["elapsed"]]
  # glmnet is documented to be used along a path (a single small lambda converges badly):
  # a 20-point grid from lambda_max down to lambda, warm started, as its own default path does.
  grid <- exp(seq(log(as.numeric(args[5])), log(lambda), length.out = 20))
  fit <- glmnet(x, y, family = "binomial", standardize = FALSE, thresh = 1e-14, maxit = 1e6, lambda = grid)
  times[i] <- proc.time()[["elapsed"]] - t
}
b <- c(fit$a0[20], as.numeric(fit$beta[, 20]))
write(b, args[4], ncolumns = 1)
cat(median(times), "\n")

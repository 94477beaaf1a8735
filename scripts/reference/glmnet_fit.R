#!/usr/bin/env Rscript
# Fit L1 logistic regressions with R glmnet for make_references.py.
#
# Usage: Rscript glmnet_fit.R SPEC.csv OUT.csv
#
# SPEC.csv columns (one job per row):
#   job      integer id
#   data     path of the data CSV (header row)
#   drop     ';'-separated columns that are not features (all outcomes)
#   outcome  the response column (0/1)
#   weights  "none" or "1+(i mod 3)" (i = 0-based data-row index)
#   alpha    target penalty on the SUM scale (unpenalized intercept)
#   alphamax alpha_max on the same scale (start of the lambda path)
#   thresh   glmnet convergence threshold
#
# glmnet minimizes  -(1/sum(w)) * sum_i w_i loglik_i + lambda * ||b||_1
# (weights are rescaled internally to sum to n, which is the same thing), so
# the sum-scale problem  sum_i w_i * nll_i + alpha * ||b||_1  corresponds to
# lambda = alpha / sum(w)  (= alpha / n for unit weights).
# A log-spaced decreasing path from alphamax to alpha is fitted and the last
# solution is reported.
#
# OUT.csv columns: job, name, value  (value printed with 17 significant
# digits); name is "const", a feature name, or a diagnostic (.lambda, .npasses,
# .jerr, .dev.ratio, .sumw).
suppressPackageStartupMessages(library(glmnet))

args <- commandArgs(trailingOnly = TRUE)
spec <- read.csv(args[1], check.names = FALSE, stringsAsFactors = FALSE)
out_path <- args[2]

# Keep every lambda (no early path stop); clip probabilities as late as possible.
glmnet.control(fdev = 0, devmax = 1, pmin = 1e-15, mnlam = 1)

cache <- list()
rows <- list()
fmt <- function(v) sprintf("%.17g", v)
for (k in seq_len(nrow(spec))) {
  s <- spec[k, ]
  if (is.null(cache[[s$data]])) {
    cache[[s$data]] <- read.csv(s$data, check.names = FALSE)
  }
  df <- cache[[s$data]]
  drop <- strsplit(s$drop, ";", fixed = TRUE)[[1]]
  feats <- setdiff(colnames(df), drop)
  x <- as.matrix(df[, feats])
  storage.mode(x) <- "double"
  y <- as.numeric(df[[s$outcome]])
  n <- nrow(x)
  if (s$weights == "none") {
    w <- rep(1, n)
  } else if (s$weights == "1+(i mod 3)") {
    w <- 1 + ((seq_len(n) - 1) %% 3)
  } else {
    stop("unknown weights: ", s$weights)
  }
  sumw <- sum(w)
  lam_target <- s$alpha / sumw
  lam_max <- s$alphamax / sumw
  path <- exp(seq(log(lam_max), log(lam_target), length.out = 40))
  path[length(path)] <- lam_target
  fit <- glmnet(x, factor(y, levels = c(0, 1)), family = "binomial",
                weights = w, lambda = path, standardize = FALSE,
                intercept = TRUE, thresh = s$thresh, maxit = 1e7,
                type.logistic = "Newton")
  last <- length(fit$lambda)
  if (abs(fit$lambda[last] - lam_target) > 1e-15 * lam_target) {
    stop("path did not reach the target lambda for job ", s$job)
  }
  b <- as.numeric(coef(fit, s = NULL)[, last])
  nm <- c("const", feats)
  rows[[k]] <- data.frame(
    job = s$job,
    name = c(nm, ".lambda", ".npasses", ".jerr", ".dev.ratio", ".sumw"),
    value = c(fmt(b), fmt(fit$lambda[last]), fmt(fit$npasses), fmt(fit$jerr),
              fmt(fit$dev.ratio[last]), fmt(sumw)),
    stringsAsFactors = FALSE)
  cat(sprintf("glmnet job %d: %s lambda=%.6g npasses=%d jerr=%d\n",
              s$job, s$outcome, lam_target, fit$npasses, fit$jerr))
}
write.csv(do.call(rbind, rows), out_path, row.names = FALSE, quote = TRUE)

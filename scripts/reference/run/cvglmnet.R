#!/usr/bin/env Rscript
# R cv.glmnet on the folds and alpha grid of a `lassoboot run --out RUN_DIR`.
#
# Usage: Rscript cvglmnet.R RUN_DIR DATA.csv FEATURES.txt SCALE RESULT.tsv [DELTA]
#
#   RUN_DIR       a lassoboot output directory: rows.csv (row,sourceRow,fold,...) gives the kept
#                 data rows and their 0-based fold; cv.csv (outcome,alpha,...) the alpha grid of
#                 each outcome (decreasing).
#   DATA.csv      the data the run read (rows are picked by rows.csv's 0-based sourceRow).
#   FEATURES.txt  one data column per line, in the spec's feature order (numeric or binary
#                 encodings only; an empty cell of a binary column is 0, as lassoboot encodes it).
#   SCALE         the spec's penalty scale: "sum" (lambda = alpha / n, n = kept rows) or
#                 "mean" (lambda = alpha).
#   RESULT.tsv    written here: lines  OUTCOME<TAB>FIELD<TAB>space-separated values (%.17g).
#   DELTA         link-scale distance under which two held-out predictions count as a near-tie
#                 (default 1e-6), for the tie bound below.
#
# Per outcome:
#   cv.glmnet(x, y, family = "binomial", type.measure = "auc", foldid = fold + 1,
#             lambda = alpha / n, standardize = FALSE, type.logistic = "Newton",
#             thresh = 1e-20, maxit = 1e7, keep = TRUE)
# under glmnet.control(fdev = 0, devmax = 1, pmin = 1e-15, mnlam = 1) so that every lambda of
# the grid is fitted in every fold (with the default fdev the path may stop early, and then
# buildPredmat repeats the last column) and fitted probabilities are clipped as late as possible.
#
# Fields written: lambda, cvm, cvsd, nzero, lambda.min, lambda.min.index (1-based), then per
# fold i: cvraw.i (the per-fold AUC cv.glmnet averaged: glmnet:::cv.lognet on the kept
# out-of-fold link predictions fit.preval), mw.i (the same AUC computed independently as the
# Mann-Whitney statistic of the link predictions with average ranks, i.e. ties count 1/2),
# tie.i (the near-tie bound: the most fold i's AUC can move when every pair of held-out rows
# whose link values differ by at most DELTA, opposite classes, is re-ordered arbitrarily:
# sum over such pairs of (pos_a neg_b + pos_b neg_a) / (P N), over distinct link values a < b),
# cvm.check / cvsd.check (glmnet:::cvstats on those cvraw: must equal cvm / cvsd), and
# warnings (count of R warnings raised by cv.glmnet; 0 expected).
#
# How cv.glmnet scores AUC (glmnet 4.1-6, read with getAnywhere):
#   * cv.lognet with type.measure = "auc" computes one AUC per fold (grouped is forced to FALSE)
#     with glmnet:::auc.mat(y, prob, w) -> glmnet:::auc(Y, Prob, Weights) ->
#     survival::concordance(Y ~ Prob, weights = W)$concordance, where prob = 1 / (1 + exp(-link)).
#     Concordance counts x-ties as 1/2 and ignores y-ties: the weighted Mann-Whitney AUC.
#   * cvstats: cvm = weighted.mean(cvraw[, j], w = fold weight sums), cvsd =
#     sqrt(weighted.mean((cvraw[, j] - cvm)^2, w) / (N - 1)) with N = number of folds.
#   * getOptcv.glmnet: lambda.min = the largest lambda among those with the best cvm (exact ties
#     go to the larger lambda).
suppressPackageStartupMessages(library(glmnet))

args <- commandArgs(trailingOnly = TRUE)
if (!(length(args) %in% 5:6)) stop("usage: Rscript cvglmnet.R RUN_DIR DATA.csv FEATURES.txt SCALE RESULT.tsv [DELTA]")
delta <- if (length(args) == 6) as.numeric(args[6]) else 1e-6
run_dir <- args[1]; data_path <- args[2]; features <- readLines(args[3]); scale <- args[4]; out_path <- args[5]
if (!(scale %in% c("sum", "mean"))) stop("SCALE must be sum or mean")

glmnet.control(fdev = 0, devmax = 1, pmin = 1e-15, mnlam = 1)

rows <- read.csv(file.path(run_dir, "rows.csv"), check.names = FALSE)
cv <- read.csv(file.path(run_dir, "cv.csv"), check.names = FALSE, colClasses = c(outcome = "character", alpha = "character"))
df <- read.csv(data_path, check.names = FALSE, colClasses = "character")
missing <- setdiff(features, colnames(df))
if (length(missing) > 0) stop("features not in the data: ", paste(missing, collapse = ", "))

num <- function(v) { v[v == ""] <- "0"; as.numeric(v) }
keep <- rows$sourceRow + 1
x <- sapply(features, function(f) num(df[[f]][keep]))
storage.mode(x) <- "double"
colnames(x) <- features
n <- nrow(x)
foldid <- rows$fold + 1
nfolds <- max(foldid)

fmt <- function(v) paste(sprintf("%.17g", v), collapse = " ")
lines <- c(paste("", "glmnet.version", as.character(packageVersion("glmnet")), sep = "\t"),
           paste("", "R.version", paste(R.version$major, R.version$minor, sep = "."), sep = "\t"),
           paste("", "n", n, sep = "\t"), paste("", "delta", fmt(delta), sep = "\t"))

mann_whitney <- function(eta, y) {
  r <- rank(eta, ties.method = "average")
  p <- sum(y == 1); q <- sum(y == 0)
  (sum(r[y == 1]) - p * (p + 1) / 2) / (p * q)
}

tie_bound <- function(eta, y) {
  u <- sort(unique(eta))
  k <- match(eta, u)
  pos <- tabulate(k[y == 1], length(u)); neg <- tabulate(k[y == 0], length(u))
  b <- 0
  for (a in seq_along(u)) {
    c <- a + 1
    while (c <= length(u) && u[c] - u[a] <= delta) { b <- b + pos[a] * neg[c] + pos[c] * neg[a]; c <- c + 1 }
  }
  b / (sum(y == 1) * sum(y == 0))
}

for (outcome in unique(cv$outcome)) {
  alpha <- as.numeric(cv$alpha[cv$outcome == outcome])
  lambda <- if (scale == "sum") alpha / n else alpha
  y <- num(df[[outcome]][keep])
  nwarn <- 0
  fit <- withCallingHandlers(
    cv.glmnet(x, y, family = "binomial", type.measure = "auc", foldid = foldid, lambda = lambda,
              standardize = FALSE, type.logistic = "Newton", thresh = 1e-20, maxit = 1e7, keep = TRUE),
    warning = function(w) { nwarn <<- nwarn + 1; message("warning (", outcome, "): ", conditionMessage(w)); invokeRestart("muffleWarning") })
  stopifnot(length(fit$lambda) == length(lambda), all(fit$lambda == lambda))
  predmat <- fit$fit.preval
  stopifnot(!anyNA(predmat))
  w <- rep(1, n)
  stuff <- glmnet:::cv.lognet(predmat, y, "auc", w, foldid, TRUE)
  check <- glmnet:::cvstats(stuff, foldid, nfolds, lambda, fit$nzero, stuff$grouped)
  out <- c(
    paste(outcome, "alpha", fmt(alpha), sep = "\t"),
    paste(outcome, "lambda", fmt(fit$lambda), sep = "\t"),
    paste(outcome, "cvm", fmt(fit$cvm), sep = "\t"),
    paste(outcome, "cvsd", fmt(fit$cvsd), sep = "\t"),
    paste(outcome, "nzero", paste(fit$nzero, collapse = " "), sep = "\t"),
    paste(outcome, "lambda.min", fmt(fit$lambda.min), sep = "\t"),
    paste(outcome, "lambda.min.index", match(fit$lambda.min, fit$lambda), sep = "\t"),
    paste(outcome, "cvm.check", fmt(check$cvm), sep = "\t"),
    paste(outcome, "cvsd.check", fmt(check$cvsd), sep = "\t"),
    paste(outcome, "warnings", nwarn, sep = "\t"))
  for (i in seq_len(nfolds)) {
    which <- foldid == i
    out <- c(out,
             paste(outcome, paste0("cvraw.", i), fmt(stuff$cvraw[i, ]), sep = "\t"),
             paste(outcome, paste0("mw.", i), fmt(apply(predmat[which, , drop = FALSE], 2, mann_whitney, y = y[which])), sep = "\t"),
             paste(outcome, paste0("tie.", i), fmt(apply(predmat[which, , drop = FALSE], 2, tie_bound, y = y[which])), sep = "\t"))
  }
  lines <- c(lines, out)
}
writeLines(lines, out_path)

#!/usr/bin/env Rscript
# The glmnet + boot peer of lassoboot-bench coverage (run by coverage_peers.py): per repetition,
# what an R user writes for bootstrap intervals of a cross-validated logistic lasso:
#   cv.glmnet(x, y, family = "binomial", nfolds = 5, nlambda = 30, lambda.min.ratio = 1e-3,
#             type.measure = "auc", standardize = FALSE)  -> lambda.min (--setting cv) or lambda.1se (cv1se)
#   boot(rows, coef(glmnet(x[i, ], y[i], lambda = lambda, standardize = FALSE)), R = B)
#   boot.ci(type = "perc", conf = level) for every coefficient, intercept first.
# glmnet's lambda is lassoboot's alpha on the "mean" penalty scale. set.seed(seed + rep) per
# repetition. Repetitions run in parallel (mclapply, --ncpus). Writes CSV
# rep,coef,estimate,low,high,lambda,seconds (seconds: that repetition's wall time, one core).
#
# Usage: Rscript coverage_glmnet_boot.R --dir DIR --reps R --setting cv|cv1se --resamples B
#            [--ncpus 2] [--level 0.95] [--seed 1] --out CSV
suppressPackageStartupMessages({ library(glmnet); library(boot); library(parallel) })

args <- commandArgs(trailingOnly = TRUE)
opt <- list(ncpus = "2", level = "0.95", seed = "1", setting = "cv")
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i]); opt[[key]] <- args[i + 1]; i <- i + 2
}
for (k in c("dir", "reps", "resamples", "out")) if (is.null(opt[[k]])) stop(paste0("--", k, " is required"))
if (!(opt$setting %in% c("cv", "cv1se"))) stop("--setting: cv (lambda.min) or cv1se (lambda.1se)")
reps <- as.integer(opt$reps); B <- as.integer(opt$resamples); level <- as.numeric(opt$level)

one <- function(rep) {
  start <- proc.time()[["elapsed"]]
  d <- read.csv(file.path(opt$dir, sprintf("rep%d.csv", rep)))
  y <- d$y; x <- as.matrix(d[, setdiff(names(d), "y")])
  set.seed(as.integer(opt$seed) + rep)
  cvfit <- cv.glmnet(x, y, family = "binomial", nfolds = 5, nlambda = 30, lambda.min.ratio = 1e-3,
                     type.measure = "auc", standardize = FALSE)
  lambda <- if (opt$setting == "cv") cvfit$lambda.min else cvfit$lambda.1se
  stat <- function(data, idx) {
    as.numeric(coef(glmnet(x[idx, , drop = FALSE], y[idx], family = "binomial", lambda = lambda,
                           standardize = FALSE)))
  }
  b <- boot(seq_along(y), stat, R = B)
  p <- length(b$t0)
  low <- high <- rep(NA_real_, p)
  for (j in seq_len(p)) {
    ci <- tryCatch(boot.ci(b, conf = level, type = "perc", index = j)$percent, error = function(e) NULL)
    if (!is.null(ci)) { low[j] <- ci[4]; high[j] <- ci[5] }
  }
  data.frame(rep = rep, coef = seq_len(p) - 1, estimate = b$t0, low = low, high = high, lambda = lambda,
             seconds = proc.time()[["elapsed"]] - start)
}
out <- mclapply(0:(reps - 1), one, mc.cores = as.integer(opt$ncpus))
bad <- which(vapply(out, function(o) inherits(o, "try-error"), logical(1)))
if (length(bad) > 0) stop(sprintf("repetition %d failed: %s", bad[1] - 1, as.character(out[[bad[1]]])))
write.csv(do.call(rbind, out), opt$out, row.names = FALSE)

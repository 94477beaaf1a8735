#!/usr/bin/env Rscript
# The R peer of `lassoboot run jobs/ctdc-north-america.json`: cross-validated lasso logistic
# regression plus bootstrap percentile intervals, the way an R user would write it with
# glmnet + boot.
#
# Per outcome (features = every other non-outcome column, 17 on the CTDC table):
#   1. cv.glmnet(x, y, family = "binomial", nfolds = 5, nlambda = 30, lambda.min.ratio = 1e-4,
#                type.measure = "auc", standardize = FALSE)              -> lambda.min
#   2. boot::boot(rows, statistic = coef(glmnet(x[i, ], y[i], lambda = lambda.min, standardize = FALSE)),
#                 R = B, parallel = "multicore", ncpus = NCPUS)
#   3. boot.ci(type = "perc") for every coefficient.
# Step 2 is timed at two small B (--b1, --b2) and the time extrapolated linearly to --target
# (default 1999): t(B) = a + b * B fitted through the two points, per outcome; the same for CPU
# time (user + sys, forked workers included). The CV and boot.ci times are measured once. Prints
# one JSON line (seconds).
#
# Usage: Rscript glmnet_boot_bench.R --data CSV [--outcomes isForcedLabour,isSexualExploit]
#            [--b1 20] [--b2 100] [--target 1999] [--ncpus 2] [--seed 1]
suppressPackageStartupMessages({ library(glmnet); library(boot); library(parallel) })

args <- commandArgs(trailingOnly = TRUE)
opt <- list(outcomes = "isForcedLabour,isSexualExploit", b1 = "20", b2 = "100", target = "1999",
            ncpus = as.character(parallel::detectCores()), seed = "1")
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i]); opt[[key]] <- args[i + 1]; i <- i + 2
}
if (is.null(opt$data)) stop("--data CSV is required")
outcomes <- strsplit(opt$outcomes, ",")[[1]]
b1 <- as.integer(opt$b1); b2 <- as.integer(opt$b2); target <- as.integer(opt$target)
ncpus <- as.integer(opt$ncpus)
set.seed(as.integer(opt$seed))
RNGkind("L'Ecuyer-CMRG")   # reproducible streams across mclapply workers

# Wall clock and CPU (user + sys of this process and of the forked boot workers it waited for).
cpu_now <- function() { p <- proc.time(); sum(p[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE) }
elapsed <- function(expr) { t0 <- proc.time()[["elapsed"]]; force(expr); proc.time()[["elapsed"]] - t0 }
timed <- function(expr) {
  c0 <- cpu_now(); t0 <- proc.time()[["elapsed"]]; force(expr)
  c(wall = proc.time()[["elapsed"]] - t0, cpu = cpu_now() - c0)
}

t_read <- elapsed(df <- read.csv(opt$data, check.names = FALSE))
feats <- setdiff(colnames(df), outcomes)
x <- as.matrix(df[, feats]); storage.mode(x) <- "double"
n <- nrow(x)

per <- list()
for (o in outcomes) {
  y <- as.numeric(df[[o]])
  t_cv <- timed(cv <- cv.glmnet(x, y, family = "binomial", nfolds = 5, nlambda = 30, lambda.min.ratio = 1e-4,
                                  type.measure = "auc", standardize = FALSE))
  lmin <- cv$lambda.min
  stat <- function(d, idx) {
    as.numeric(coef(glmnet(x[idx, , drop = FALSE], y[idx], family = "binomial", lambda = lmin, standardize = FALSE)))
  }
  rows <- seq_len(n)
  t_b1 <- timed(bt1 <- boot(rows, stat, R = b1, parallel = "multicore", ncpus = ncpus))
  t_b2 <- timed(bt <- boot(rows, stat, R = b2, parallel = "multicore", ncpus = ncpus))
  t_ci <- elapsed(for (j in seq_along(bt$t0)) {
    if (length(unique(bt$t[, j])) > 1) suppressWarnings(boot.ci(bt, type = "perc", index = j))
  })
  extrapolate <- function(k) {
    slope <- (t_b2[[k]] - t_b1[[k]]) / (b2 - b1)
    intercept <- t_b1[[k]] - slope * b1
    if (slope <= 0) { slope <- t_b2[[k]] / b2; intercept <- 0 }   # noise: fall back to proportional
    c(slope = slope, target = intercept + slope * target)
  }
  w <- extrapolate("wall"); cc <- extrapolate("cpu")
  per[[o]] <- list(cv = t_cv[["wall"]], cv_cpu = t_cv[["cpu"]], lambda = lmin, alpha_sum = lmin * n,
                   b1 = t_b1[["wall"]], b2 = t_b2[["wall"]], per_resample = w[["slope"]], boot_target = w[["target"]],
                   boot_cpu_target = cc[["target"]], ci = t_ci)
}

num <- function(v) sprintf("%.6g", v)
tot_cv <- sum(sapply(per, `[[`, "cv"))
tot_boot <- sum(sapply(per, `[[`, "boot_target"))
tot_cpu <- sum(sapply(per, `[[`, "cv_cpu")) + sum(sapply(per, `[[`, "boot_cpu_target"))
parts <- sapply(names(per), function(o) {
  p <- per[[o]]
  sprintf('"%s":{"cvSeconds":%s,"lambdaMin":%s,"alphaSumScale":%s,"bootSecondsB1":%s,"bootSecondsB2":%s,"secondsPerResample":%s,"bootSecondsTarget":%s,"bootCPUSecondsTarget":%s,"ciSeconds":%s}',
          o, num(p$cv), num(p$lambda), num(p$alpha_sum), num(p$b1), num(p$b2), num(p$per_resample), num(p$boot_target), num(p$boot_cpu_target), num(p$ci))
})
cat(sprintf(paste0('{"tool":"R glmnet %s + boot %s","rows":%d,"features":%d,"ncpus":%d,"b1":%d,"b2":%d,"target":%d,',
                   '"readSeconds":%s,"cvSeconds":%s,"bootSecondsTarget":%s,"totalSecondsTarget":%s,"totalCPUSecondsTarget":%s,"outcomes":{%s}}\n'),
            as.character(packageVersion("glmnet")), as.character(packageVersion("boot")), n, length(feats), ncpus,
            b1, b2, target, num(t_read), num(tot_cv), num(tot_boot), num(tot_cv + tot_boot), num(tot_cpu),
            paste(parts, collapse = ",")))

#!/usr/bin/env Rscript
# Times ONE full-data glmnet fit of the sum-scale problem
#   sum_i [log(1 + exp(eta_i)) - y_i eta_i] + alpha * sum_j |b_j|   (intercept unpenalized)
# i.e. glmnet(family = "binomial", standardize = FALSE, lambda = alpha / n).
# The matrix is built beforehand; only the glmnet() call is timed (median of --repeat runs,
# each run timed over enough back-to-back calls to last >= 0.2 s, since system.time has 1 ms
# resolution). Prints one JSON line with the KKT violation / n and the objective, computed here.
#
# Usage: Rscript glmnet_bench.R --data CSV --outcome COL --exclude COL [--exclude COL ...]
#                               --alpha A --thresh T [--repeat N] [--label TEXT]
suppressPackageStartupMessages(library(glmnet))

args <- commandArgs(trailingOnly = TRUE)
opt <- list(exclude = character(0), thresh = "1e-7", `repeat` = "7", label = "")
i <- 1
while (i <= length(args)) {
  key <- sub("^--", "", args[i]); val <- args[i + 1]
  if (key == "exclude") opt$exclude <- c(opt$exclude, val) else opt[[key]] <- val
  i <- i + 2
}
alpha <- as.numeric(opt$alpha)
thresh <- as.numeric(opt$thresh)
reps <- as.integer(opt$`repeat`)

df <- read.csv(opt$data, check.names = FALSE)
feats <- setdiff(colnames(df), c(opt$outcome, opt$exclude))
x <- as.matrix(df[, feats]); storage.mode(x) <- "double"
y <- as.numeric(df[[opt$outcome]])
n <- nrow(x)
lam <- alpha / n
glmnet.control(factory = TRUE)

fit_once <- function() {
  glmnet(x, y, family = "binomial", lambda = lam, standardize = FALSE,
         intercept = TRUE, thresh = thresh, maxit = 1e7)
}
fit <- fit_once()   # warm-up, also the fit we check
# Calls per timed batch so that one batch lasts >= 0.2 s.
one <- system.time(fit_once())[["elapsed"]]
batch <- max(1L, as.integer(ceiling(0.2 / max(one, 1e-3))))
times <- numeric(reps)
for (r in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  for (b in seq_len(batch)) f <- fit_once()
  times[r] <- (proc.time()[["elapsed"]] - t0) / batch
}

b <- as.numeric(coef(fit))            # const, features
eta <- as.vector(b[1] + x %*% b[-1])
mu <- 1 / (1 + exp(-eta))
res <- mu - y
g0 <- sum(res); g <- as.vector(crossprod(x, res))
viol <- ifelse(b[-1] == 0, pmax(0, abs(g) - alpha), abs(g + alpha * sign(b[-1])))
kkt <- max(c(abs(g0), viol)) / n
softplus <- pmax(eta, 0) + log1p(exp(-abs(eta)))
loss <- sum(softplus - y * eta)
objective <- loss + alpha * sum(abs(b[-1]))

num <- function(v) sprintf("%.17g", v)
cat(sprintf(paste0('{"tool":"glmnet","label":"%s","version":"%s","rows":%d,"features":%d,"alpha":%s,',
                   '"lambda":%s,"thresh":%s,"repeat":%d,"batch":%d,"medianSeconds":%s,"minSeconds":%s,',
                   '"kktViolation":%s,"objective":%s,"loss":%s,"npasses":%d,"jerr":%d,"nonzero":%d,',
                   '"coefficients":[%s]}\n'),
            opt$label, as.character(packageVersion("glmnet")), n, length(feats), num(alpha), num(lam),
            num(thresh), reps, batch, num(median(times)), num(min(times)), num(kkt), num(objective),
            num(loss), as.integer(fit$npasses), as.integer(fit$jerr), sum(b[-1] != 0),
            paste(num(b), collapse = ",")))

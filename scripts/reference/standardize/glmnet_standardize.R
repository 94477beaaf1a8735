#!/usr/bin/env Rscript
# glmnet standardize=TRUE reference for issue 11 (see make_breast_cancer.py).
# Usage: Rscript glmnet_standardize.R breast_cancer.csv OUT.json
# Fits malignant ~ 30 features at lambda = lambda_max * {0.2, 0.05, 0.01} (mean scale, glmnet's
# lambda), each as the end of a 50-step log path from lambda_max, thresh 1e-22 (at 1e-14 glmnet
# stops at KKT violations near 1e-8 and coefficients 1e-5 from the optimum; at 1e-22 the KKT
# violation is below 1e-12 in standardized units); coefficients are
# glmnet's, on the original scale (glmnet undoes its standardization before returning them).
suppressPackageStartupMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
df <- read.csv(args[1], check.names = FALSE)
df <- df[, -1]                                   # pandas' index column
y <- as.numeric(df$malignant == "True")
x <- as.matrix(df[, setdiff(colnames(df), "malignant")])
glmnet.control(fdev = 0, devmax = 1, pmin = 1e-15, mnlam = 1)
n <- nrow(x)
sdpop <- apply(x, 2, function(v) sqrt(mean((v - mean(v))^2)))
ybar <- mean(y)
lmax <- max(abs(colSums(x * (y - ybar))) / n / sdpop)
fmt <- function(v) sprintf("%.17g", v)
fits <- c()
for (ratio in c(0.2, 0.05, 0.01)) {
  target <- lmax * ratio
  path <- exp(seq(log(lmax), log(target), length.out = 50))
  f <- glmnet(x, y, family = "binomial", lambda = path, standardize = TRUE, thresh = 1e-22, maxit = 1e8)
  b <- as.numeric(coef(f)[, 50])
  names(b) <- c("(Intercept)", colnames(x))
  coefs <- paste0('"', colnames(x), '": ', fmt(b[-1]), collapse = ", ")
  fits <- c(fits, sprintf('  {"lambda": %s, "ratio": %s, "intercept": %s, "coefficients": {%s}}',
                          fmt(target), fmt(ratio), fmt(b[1]), coefs))
}
cat(sprintf('{"source": "R glmnet %s, family binomial, standardize=TRUE, thresh 1e-22; lambda on the mean scale (glmnet lambda)",\n "lambdaMax": %s,\n "fits": [\n%s\n ]}\n',
            as.character(packageVersion("glmnet")), fmt(lmax), paste(fits, collapse = ",\n")), file = args[2])

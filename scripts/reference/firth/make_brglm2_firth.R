# Firth's bias-reduced logistic regression from R brglm2, the reference for lassoboot's
# `debiased: {method: firth}` estimate (issue 10).
#
# For the logistic model (canonical link) brglm2's mean bias reduction, glm(..., method =
# "brglmFit", type = "AS_mean"), solves Firth's (1993) modified score equations: the estimate
# maximizes the log-likelihood plus 1/2 log det of the Fisher information. Its standard errors
# are the inverse Fisher information at that estimate, as lassoboot's are.
#
# Data sets:
#   - synthetic: Tests/Fixtures/synthetic_logistic.csv (1,500 rows, continuous x1..x5, binary x6..x8);
#   - separated: Tests/Fixtures/firth_separated.csv, written here: 80 rows in which every row with
#     x2 = 1 has y = 1 (quasi-complete separation: no finite maximum-likelihood estimate);
#   - p20: Tests/Fixtures/firth_p20.csv, written here: 200 rows, 20 features (p/n = 0.1, where
#     the maximum-likelihood estimate's own bias spoils Wald coverage).
#
# Writes Tests/Fixtures/firth_brglm2.json. Run from the repository root:
#   Rscript scripts/reference/firth/make_brglm2_firth.R
# Needs r-base-core and r-cran-brglm2 (Debian).
suppressPackageStartupMessages(library(brglm2))
fixtures <- "Tests/Fixtures"
set.seed(20261204)

n <- 80
sep <- data.frame(x1 = round(rnorm(n), 2), x2 = rbinom(n, 1, 0.15), x3 = round(rnorm(n), 2))
eta <- -0.3 + 0.8 * sep$x1 - 0.5 * sep$x3
sep$y <- rbinom(n, 1, plogis(eta))
sep$y[sep$x2 == 1] <- 1
write.csv(sep, file.path(fixtures, "firth_separated.csv"), row.names = FALSE, quote = FALSE)

n <- 200; p <- 20
z <- matrix(rnorm(n * p), n, p)
for (j in 2:p) z[, j] <- 0.5 * z[, j - 1] + sqrt(1 - 0.25) * z[, j]
wide <- as.data.frame(round(z, 2))
names(wide) <- paste0("x", 1:p)
for (j in seq(2, p, by = 2)) wide[[j]] <- as.integer(z[, j] < qnorm(c(0.5, 0.3, 0.15, 0.4, 0.1)[(j / 2 - 1) %% 5 + 1]))
beta <- c(1, 0, 0.3, -1, 0, -0.2, 0.8, 0, 0.1, -0.8, rep(0, 10))
wide$y <- rbinom(n, 1, plogis(-0.5 + as.matrix(wide[, 1:p]) %*% beta))
write.csv(wide, file.path(fixtures, "firth_p20.csv"), row.names = FALSE, quote = FALSE)

num <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
fit_one <- function(file) {
    d <- read.csv(file.path(fixtures, file))
    fit <- glm(y ~ ., data = d, family = binomial("logit"), method = "brglmFit", type = "AS_mean",
               control = brglmControl(epsilon = 1e-14, maxit = 1000))
    stopifnot(fit$converged)
    co <- coef(fit); se <- sqrt(diag(vcov(fit))); z <- qnorm(0.975)
    sprintf('  "%s": {"csv": "%s", "rows": %d, "names": ["const", %s], "params": %s, "bse": %s, "low": %s, "high": %s}',
            sub(".csv", "", sub("firth_", "", file), fixed = TRUE), file, nrow(d),
            paste0('"', names(co)[-1], '"', collapse = ", "), num(co), num(se), num(co - z * se), num(co + z * se))
}
out <- c(fit_one("synthetic_logistic.csv"), fit_one("firth_separated.csv"), fit_one("firth_p20.csv"))
writeLines(c("{", sprintf('  "level": 0.95, "brglm2": "%s", "R": "%s",', packageVersion("brglm2"), getRversion()),
             paste(out, collapse = ",\n"), "}"), file.path(fixtures, "firth_brglm2.json"))
cat("wrote", file.path(fixtures, "firth_brglm2.json"), "\n")

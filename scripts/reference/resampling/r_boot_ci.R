#!/usr/bin/env Rscript
# R boot's interval conventions for make_ci_fixtures.py.
#
# Usage: Rscript r_boot_ci.R IN_DIR OUT.txt
#
# IN_DIR holds one file per case, NAME.case, with three lines:
#   1. t0 (the estimate)
#   2. the B bootstrap replicates, space-separated
#   3. the row-level empirical influence values L_i = (n-1)(mean(theta_-j) - theta_-i)
#      (delete-one jackknife), space-separated
# and levels.txt with the confidence levels, space-separated.
#
# OUT.txt gets one line per case, level and method:  NAME LEVEL METHOD LOW HIGH
# with METHOD in normal, percentile, basic, bca (boot::norm.ci, boot:::perc.ci,
# boot:::basic.ci, boot:::bca.ci with L given). Values have 17 significant digits;
# "NA" where boot stops (bca.ci: "estimated adjustment 'w' is infinite" or
# "'a' is NA").
suppressPackageStartupMessages(library(boot))

args <- commandArgs(trailingOnly = TRUE)
in_dir <- args[1]
out_path <- args[2]
levels <- scan(file.path(in_dir, "levels.txt"), quiet = TRUE)
files <- sort(list.files(in_dir, pattern = "\\.case$"))
fmt <- function(x) if (is.na(x)) "NA" else sprintf("%.17g", x)
lines <- character(0)
for (f in files) {
  name <- sub("\\.case$", "", f)
  txt <- readLines(file.path(in_dir, f))
  t0 <- as.numeric(txt[1])
  t <- scan(text = txt[2], quiet = TRUE)
  L <- scan(text = txt[3], quiet = TRUE)
  for (conf in levels) {
    res <- list(
      normal = norm.ci(NULL, conf = conf, t0 = t0, t = t)[1, 2:3],
      percentile = suppressWarnings(boot:::perc.ci(t, conf = conf))[1, 4:5],
      basic = suppressWarnings(boot:::basic.ci(t0, t, conf = conf))[1, 4:5],
      bca = tryCatch(suppressWarnings(boot:::bca.ci(NULL, conf = conf, t0 = t0, t = t, L = L))[1, 4:5],
                     error = function(e) c(NA_real_, NA_real_))
    )
    for (m in names(res)) {
      lines <- c(lines, paste(name, sprintf("%.17g", conf), m, fmt(res[[m]][1]), fmt(res[[m]][2])))
    }
  }
}
writeLines(lines, out_path)

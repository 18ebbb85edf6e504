"""Apache Spark as the warehouse engine: the one session dbt (dbt-spark, `method: session`) and splink
(`SparkAPI`) share, and the copy of the tables the Python stages write into it.

Plain Python, no Dagster and no dbt: pyspark is imported inside the functions, so importing this package
starts no JVM.
"""

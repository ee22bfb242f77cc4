# Turns file IN into a C++ source OUT defining
#   extern const unsigned char sa_vocab_data[]; extern const unsigned long sa_vocab_size;
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "// Generated from ${IN}; do not edit.\n"
  "extern const unsigned char sa_vocab_data[];\nextern const unsigned long sa_vocab_size;\n"
  "const unsigned char sa_vocab_data[] = {${body}};\n"
  "const unsigned long sa_vocab_size = ${size};\n")

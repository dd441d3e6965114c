// Quoting for /bin/sh, for values put into command lines that a shell reads.
#pragma once

#include <string>

namespace baton {

// 'text', with each ' written as '\'' : one word whatever the text holds.
std::string ShellQuote(const std::string& text);

}  // namespace baton

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/file_system.h"
#include "common/check.h"

namespace quire {

Status FileSystem::WriteFileAtomically(const std::string& path, std::string_view contents,
                                       uint32_t mode) {
  std::string tmp = path + ".tmp";
  {
    QUIRE_ASSIGN_OR_RETURN(auto file, Open(tmp, {.create = true, .truncate = true, .mode = mode}));
    QUIRE_RETURN_IF_ERROR(file->Write(0, contents));
    QUIRE_RETURN_IF_ERROR(file->Sync());
  }
  QUIRE_RETURN_IF_ERROR(Rename(tmp, path));
  return SyncDir(DirName(path));
}

Result<std::string> FileSystem::ReadFile(const std::string& path) {
  QUIRE_ASSIGN_OR_RETURN(auto file, Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string out(size, '\0');
  QUIRE_ASSIGN_OR_RETURN(size_t n, file->Read(0, out.data(), out.size()));
  out.resize(n);
  return out;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return fmt::format("{}{}", dir, name);
  return fmt::format("{}/{}", dir, name);
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept
    : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
  o.data_ = nullptr;
  o.size_ = o.capacity_ = 0;
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    capacity_ = o.capacity_;
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

void AlignedBuffer::Reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  size_t cap = AlignUp(std::max(capacity, capacity_ * 2), kDirectIoAlignment);
  void* p = std::aligned_alloc(kDirectIoAlignment, cap);
  QUIRE_CHECK_MSG(p != nullptr, "out of memory allocating {} bytes", cap);
  if (size_ > 0) std::memcpy(p, data_, size_);
  std::free(data_);
  data_ = static_cast<char*>(p);
  capacity_ = cap;
}

void AlignedBuffer::Append(const void* data, size_t n) {
  if (n == 0) return;  // `data` may then be null (an empty payload), which memcpy must not get
  Reserve(size_ + n);
  std::memcpy(data_ + size_, data, n);
  size_ += n;
}

void AlignedBuffer::AppendZeros(size_t n) {
  Reserve(size_ + n);
  std::memset(data_ + size_, 0, n);
  size_ += n;
}

void AlignedBuffer::Resize(size_t n) {
  Reserve(n);
  size_ = n;
}

}  // namespace quire
